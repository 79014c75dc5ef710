// The launch-plan builder, without root: what runs where, in which order, with which arguments.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildLaunchPlan, defaultSpec, describeFailure, encodePlan, resolveInRoot, validateSpec, type Spec } from '../../src';
import { tempDir } from '../helpers/env';

let bundle: string;
beforeEach(() => {
  bundle = tempDir();
  fs.mkdirSync(path.join(bundle, 'rootfs', 'bin'), { recursive: true });
});
afterEach(() => fs.rmSync(bundle, { recursive: true, force: true }));

const files = { exit: '/r/c.exit', exitTmp: '/r/c.exittmp', gate: '/r/c.gate', ready: '/r/c.ready' };
function spec(edit: (s: any) => void = () => {}): Spec { // eslint-disable-line @typescript-eslint/no-explicit-any
  const s = defaultSpec() as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  s.process.terminal = false;
  s.process.args = ['sh', '-c', 'true'];
  edit(s);
  return validateSpec(s);
}
const plan = (s: Spec, extraFds = 0) => buildLaunchPlan(s, { bundle, files, extraFds });
const ops = (s: Spec) => plan(s).ops.map((o) => o.op);

describe('buildLaunchPlan', () => {
  it('orders the phases: gofer, then init up to pivot_root, then the user\'s process up to exec', () => {
    const names = ops(spec());
    const phases = names.map((n) => n[0]).join('');
    expect(phases).toMatch(/^g+i+u+$/);
    expect(names.indexOf('i-pivot-root')).toBeGreaterThan(names.lastIndexOf('i-mount'));
    expect(names.at(-1)).toBe('u-exec');
    expect(names.indexOf('u-setuid')).toBeLessThan(names.indexOf('u-caps'));
    expect(names.indexOf('u-bounding')).toBeLessThan(names.indexOf('u-setuid'));
  });

  it('mounts /proc from the user\'s process, inside its own pid namespace, and masks after it', () => {
    const p = plan(spec());
    const procMount = p.ops.findIndex((o) => o.op === 'u-mount' && o.args[2] === 'proc');
    expect(procMount).toBeGreaterThan(0);
    expect(p.ops[procMount].args[1]).toBe('/proc'); // a path after pivot_root
    expect(p.ops.findIndex((o) => o.op === 'u-mask')).toBeGreaterThan(procMount);
    expect(p.nestedPidNamespace).toBe(true);
    expect(p.ops.find((o) => o.op === 'i-user-clone')!.args).toEqual([String(0x20000000)]);
  });

  it('creates new namespaces in the gofer\'s clone (user, pid) and the init\'s unshare (the rest)', () => {
    const p = plan(spec((s) => {
      s.linux.namespaces.push({ type: 'user' });
      s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 10 }];
      s.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 10 }];
    }));
    expect(Number(p.ops.find((o) => o.op === 'g-clone')!.args[0])).toBe(0x10000000 | 0x20000000);
    expect(Number(p.ops.find((o) => o.op === 'i-unshare')!.args[0])).toBe(0x00020000 | 0x04000000 | 0x08000000 | 0x40000000);
    expect(p.ops.find((o) => o.op === 'g-uid-map')!.args).toEqual(['0 1000 10\n']);
    // mknod is refused in a user namespace: devices are bound from the host instead.
    expect(p.ops.some((o) => o.op === 'i-mknod')).toBe(false);
    expect(p.ops.some((o) => o.op === 'i-mount' && o.args[0] === '/dev/null')).toBe(true);
  });

  it('joins namespaces given by path, the pid namespace in the gofer', () => {
    const p = plan(spec((s) => {
      s.linux.namespaces = [{ type: 'mount' }, { type: 'pid', path: '/proc/1/ns/pid' }, { type: 'network', path: '/proc/1/ns/net' }];
      delete s.hostname;
    }));
    expect(p.ops.find((o) => o.op === 'g-join-pid')!.args).toEqual(['/proc/1/ns/pid']);
    expect(p.ops.find((o) => o.op === 'i-setns')!.args).toEqual(['/proc/1/ns/net', String(0x40000000)]);
    expect(p.nestedPidNamespace).toBe(false);
  });

  it('turns mount options into flags and data, and remounts bind mounts for their flags', () => {
    const p = plan(spec((s) => {
      s.mounts = [{ destination: '/data', type: 'bind', source: bundle, options: ['rbind', 'ro', 'nosuid', 'rprivate'] },
        { destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['nodev', 'mode=755', 'size=1m'] }];
    }));
    const mounts = p.ops.filter((o) => o.op === 'i-mount' && o.args[1].endsWith('/data'));
    expect(mounts.map((m) => Number(m.args[3]))).toEqual([4096 | 16384, 32 | 4096 | 1 | 2, (1 << 18) | 16384]);
    const tmpfs = p.ops.find((o) => o.op === 'i-mount' && o.args[1].endsWith('/t'))!;
    expect(tmpfs.args.slice(2)).toEqual(['tmpfs', '4', 'mode=755,size=1m']);
  });

  it('refuses what cannot be done, naming the field', () => {
    expect(() => plan(spec((s) => {
      s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== 'uts');
    }))).toThrow('config.hostname: setting the hostname needs a uts namespace');
    expect(() => plan(spec((s) => s.process.rlimits.push({ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }))))
      .toThrow('unknown rlimit "RLIMIT_BOGUS"');
    expect(() => plan(spec((s) => s.process.capabilities.bounding.push('CAP_MAKE_COFFEE'))))
      .toThrow('config.process.capabilities.bounding: unknown capability "CAP_MAKE_COFFEE"');
    expect(() => plan(spec((s) => (s.root.path = 'missing')))).toThrow('config.root.path');
    expect(() => plan(spec((s) => s.linux.namespaces.push({ type: 'user' })))).toThrow('uidMappings: a new user namespace needs them');
  });

  it('searches PATH for the executable, as execve will not', () => {
    const candidates = plan(spec((s) => (s.process.env = ['PATH=/a:/b']))).ops.find((o) => o.op === 'i-find-exec')!.args;
    expect(candidates).toEqual(['/a/sh', '/b/sh']);
    const direct = plan(spec((s) => (s.process.args = ['./run.sh']))).ops.find((o) => o.op === 'i-find-exec')!.args;
    expect(direct).toEqual(['/run.sh']);
  });

  it('opens a terminal after pivot_root and attaches it right after setsid, for --console-socket', () => {
    const names = buildLaunchPlan(spec((s) => (s.process.terminal = true)), { bundle, files, extraFds: 0, consoleSocket: '/run/c.sock' })
      .ops.map((o) => o.op);
    expect(names).toContain('g-console');
    expect(names.indexOf('i-pty')).toBeGreaterThan(names.indexOf('i-pivot-root'));
    expect(names.indexOf('u-console')).toBe(names.indexOf('u-setsid') + 1);
    expect(ops(spec())).not.toContain('i-pty');
  });

  it('keeps --preserve-fds descriptors: closes from 3+N', () => {
    expect(plan(spec(), 2).ops.find((o) => o.op === 'u-close-fds')!.args).toEqual(['5']);
  });
});

describe('resolveInRoot', () => {
  it('follows symlinks inside the root and never out of it', () => {
    const rootfs = path.join(bundle, 'rootfs');
    fs.symlinkSync('/etc', path.join(rootfs, 'abs'));
    fs.symlinkSync('../../../../etc', path.join(rootfs, 'up'));
    fs.mkdirSync(path.join(rootfs, 'real'));
    fs.symlinkSync('real', path.join(rootfs, 'rel'));
    expect(resolveInRoot(rootfs, '/abs/passwd')).toBe('/etc/passwd');
    expect(resolveInRoot(rootfs, '/up/shadow')).toBe('/etc/shadow');
    expect(resolveInRoot(rootfs, '/rel/x')).toBe('/real/x');
    expect(resolveInRoot(rootfs, '/../../x')).toBe('/x');
    fs.symlinkSync('loop', path.join(rootfs, 'loop'));
    expect(() => resolveInRoot(rootfs, '/loop')).toThrow(/ELOOP/);
  });
});

describe('plan wire format and failures', () => {
  it('encodes records of NUL-terminated tokens, ended by "end"', () => {
    const encoded = encodePlan({ ops: [{ op: 'i-chdir', args: ['/x'], description: '' }], nestedPidNamespace: false });
    expect(encoded.toString()).toBe('2\0i-chdir\0/x\0' + '1\0end\0');
  });

  it('describes a failed step with its errno as podman reads it', () => {
    const p = plan(spec());
    const index = p.ops.findIndex((o) => o.op === 'u-mount' && o.args[2] === 'proc');
    expect(describeFailure(p, index, 1)).toBe('mount "proc" on "/proc": EPERM (operation not permitted)');
    const exec = p.ops.findIndex((o) => o.op === 'i-find-exec');
    expect(describeFailure(p, exec, 2)).toBe('exec "sh": ENOENT (no such file or directory)');
  });
});
