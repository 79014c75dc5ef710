// runcell run: real containers, as root.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { childEnv, runcell, useScratch } from '../helpers/env';
import { makeBundle, whyNoContainers } from '../helpers/bundle';

const skip = whyNoContainers();
let dir: string;
let root: string;
// Cgroups are host-wide (/runcell/<id>): files running in parallel must not share ids.
const ID = `c${process.pid}`;
useScratch((d, r) => {
  dir = d;
  root = r;
});

async function run(args: string[], edit?: Parameters<typeof makeBundle>[2]) {
  const bundle = makeBundle(path.join(dir, 'bundle'), args, edit);
  return runcell(['--root', root, 'run', '-b', bundle, ID]);
}

describe.skipIf(skip !== null)(`runcell run${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('runs the process as pid 1 of its own pid namespace and exits with its code', async () => {
    const result = await run(['sh', '-c', 'echo pid=$$; exit 7']);
    expect(result.stdout).toBe('pid=1\n');
    expect(result.code).toBe(7);
    expect(fs.readdirSync(root)).toEqual([]); // run deletes the container afterwards
  });

  it('sets the hostname, environment and working directory of the spec', async () => {
    const result = await run(['sh', '-c', 'hostname; echo $GREETING; pwd'], (spec) => {
      spec.hostname = 'cell-host';
      spec.process.env.push('GREETING=hi there');
      spec.process.cwd = '/tmp/work';
    });
    expect(result.stdout).toBe('cell-host\nhi there\n/tmp/work\n');
    expect(result.code).toBe(0);
  });

  it('sets the loopback up in a new network namespace, as runc does (podman --network none, pods use 127.0.0.1)', async () => {
    const result = await run(['cat', '/sys/class/net/lo/flags']);
    expect(result).toMatchObject({ code: 0, stdout: '0x9\n' }); // IFF_UP | IFF_LOOPBACK
  });

  it('passes every argument as given, "--" and empty ones included (podman --init: "/run/podman-init -- CMD")', async () => {
    const result = await run(['sh', '-c', 'echo "$0|$1|$2|$3|$#"; env | grep -c -e "^--$" -e "^x$"', '--', 'x', '', '--']);
    expect(result).toMatchObject({ code: 1, stdout: '--|x||--|3\n0\n' }); // runc prints the same
  });

  it('refuses a NUL byte in a config value: it can no longer smuggle a host-side step into the plan', async () => {
    // The gofer ran an injected "g-cgroup FILE" on the host, writing the init's pid into FILE.
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'ORIGINAL');
    const result = await run(['true'], (spec) => spec.process.env.push(`A=1\u00002\u0000g-cgroup\u0000${victim}`));
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('runcell: config.json: exec "true": a value holds a NUL byte\n');
    expect(fs.readFileSync(victim, 'utf8')).toBe('ORIGINAL');
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('shows only its own processes in /proc', async () => {
    const result = await run(['sh', '-c', 'ls /proc | grep -c "^[0-9]"']);
    expect(Number(result.stdout.trim())).toBeLessThanOrEqual(3); // sh, ls, grep
  });

  it('makes the root read-only when asked, and mounts tmpfs and bind mounts', async () => {
    const shared = path.join(dir, 'shared');
    fs.mkdirSync(shared);
    fs.writeFileSync(path.join(shared, 'from-host'), 'host data\n');
    const result = await run(['sh', '-c', 'touch /x 2>/dev/null && echo wrote-root; cat /data/from-host; echo ok > /scratch/y && cat /scratch/y; echo back > /data/from-box'], (spec) => {
      spec.root.readonly = true;
      spec.mounts.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'size=1m'] });
      spec.mounts.push({ destination: '/data', type: 'bind', source: shared, options: ['rbind', 'rw'] });
    });
    expect(result.stdout).toBe('host data\nok\n');
    expect(fs.readFileSync(path.join(shared, 'from-box'), 'utf8')).toBe('back\n');
  });

  it('masks the masked paths', async () => {
    const result = await run(['sh', '-c', 'cat /proc/kcore | wc -c; ls /sys/firmware | wc -l']);
    expect(result.stdout).toBe('0\n0\n');
  });

  it('maps users in a user namespace', async () => {
    fs.chmodSync(dir, 0o755); // the mapped root (host uid 100000) must reach the bundle
    const result = await run(['sh', '-c', 'id -u; cat /proc/self/uid_map'], (spec) => {
      spec.linux.namespaces.push({ type: 'user' });
      spec.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      spec.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      spec.mounts = spec.mounts.filter((m: { destination: string }) => !m.destination.startsWith('/sys'));
    });
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')[0]).toBe('0');
    expect(result.stdout.split('\n')[1].trim().split(/\s+/)).toEqual(['0', '100000', '65536']);
  });

  it('runs as the spec\'s user with the spec\'s capabilities', async () => {
    const result = await run(['sh', '-c', 'id -u; id -g; grep CapEff /proc/self/status'], (spec) => {
      spec.process.user = { uid: 1000, gid: 1000 };
    });
    expect(result.stdout).toBe('1000\n1000\nCapEff:\t0000000000000000\n');
  });

  it('drops every capability when the spec has no process.capabilities (as runc), never keeps them all', async () => {
    const result = await run(['sh', '-c', 'grep -E "Cap(Prm|Eff|Bnd)" /proc/self/status'], (spec) => {
      delete spec.process.capabilities;
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n');
  });

  it('sets HOME from the container\'s /etc/passwd when the environment has none, else "/"', async () => {
    const home = (uid: number, env: string[]) => run(['sh', '-c', 'echo "$HOME"'], (spec) => {
      spec.process.user = { uid, gid: uid };
      spec.process.env = ['PATH=/bin', ...env];
    });
    const bundle = path.join(dir, 'bundle');
    fs.mkdirSync(path.join(bundle, 'rootfs', 'etc'), { recursive: true });
    fs.writeFileSync(path.join(bundle, 'rootfs', 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n');
    expect((await home(1000, [])).stdout).toBe('/home/u\n');
    expect((await home(0, ['HOME='])).stdout).toBe('/root\n');
    expect((await home(1000, ['HOME=/mine'])).stdout).toBe('/mine\n');
    expect((await home(4242, [])).stdout).toBe('/\n');
  });

  it('does not pass on a descriptor the caller opened', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['sh', '-c', 'ls /proc/self/fd']);
    const result = await runcell(['--root', root, 'run', '-b', bundle, ID], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    expect(result.stdout.trim().split('\n').sort()).toEqual(['0', '1', '2', '3']); // 3: ls's own directory
  });

  it('reports an executable that does not exist, by name, with ENOENT, and leaves nothing', async () => {
    const result = await run(['no-such-program']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`runcell: cannot create container "${ID}": exec "no-such-program": ENOENT (no such file or directory)`);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('rejects an invalid config.json naming the file and the field', async () => {
    const result = await run(['sh'], (spec) => {
      spec.process.user.uid = -1;
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`runcell: ${path.join(dir, 'bundle', 'config.json')}: config.process.user.uid: must be an integer from 0 to 4294967295\n`);
  });
});

describe.skipIf(skip !== null)(`terminals${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('a foreground run of a terminal spec gets a terminal of its own (cli-flags.test.ts: as runc\'s); a detached one is refused clearly', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['echo', 'attached'], (spec) => (spec.process.terminal = true));
    // Its console socket is made in $TMPDIR, and goes.
    const tmp = fs.mkdtempSync(path.join(dir, 'tmp-'));
    const result = await runcell(['--root', root, 'run', '-b', bundle, ID], { env: childEnv({ TMPDIR: tmp }) });
    expect(result).toMatchObject({ code: 0, stdout: 'attached\r\n' }); // through the container's terminal
    expect(fs.readdirSync(tmp)).toEqual([]);
    const detached = await runcell(['--root', root, 'create', '-b', bundle, ID]);
    expect(detached.code).toBe(1);
    expect(detached.stderr).toContain('config.process.terminal: a terminal needs --console-socket');
    expect(fs.existsSync(root) ? fs.readdirSync(root) : []).toEqual([]);
  });
});
