// Hostile images and volumes: a symlink planted in the image or in a bind-mounted volume must
// never make runcell create, chmod, chown or mount anything on the host. Each test plants one,
// runs a container, and checks the host side is untouched; the container either fails with a
// clear error or runs without reaching the host.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runcell, useScratch } from '../helpers/env';
import { makeBundle, whyNoContainers, type SpecEdit } from '../helpers/bundle';

const skip = whyNoContainers();
let dir: string;
let root: string;
const ID = `ra${process.pid}`;
useScratch((d, r) => {
  dir = d;
  root = r;
});

/** A host directory the attacks aim at, and what it holds before the container runs. */
function hostTarget(): string {
  const target = path.join(dir, 'host-target');
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, 'secret'), 'host secret\n', { mode: 0o600 });
  fs.chownSync(path.join(target, 'secret'), 1234, 1234);
  return target;
}

function snapshot(target: string): string {
  return fs.readdirSync(target).sort().map((name) => {
    const st = fs.lstatSync(path.join(target, name));
    return `${name} ${st.mode.toString(8)} ${st.uid}:${st.gid}`;
  }).join('\n');
}

/** A bind-mounted volume holding a symlink "esc" to the host target. */
function volumeWithLink(target: string): string {
  const volume = path.join(dir, 'volume');
  fs.mkdirSync(volume);
  fs.symlinkSync(target, path.join(volume, 'esc'));
  return volume;
}

const volumeMount = (volume: string) => ({ destination: '/vol', type: 'bind', source: volume, options: ['rbind'] });

async function run(args: string[], edit: SpecEdit, prepare: (rootfs: string) => void = () => {}) {
  const bundle = path.join(dir, 'bundle');
  makeBundle(bundle, args, edit);
  prepare(path.join(bundle, 'rootfs'));
  return runcell(['--root', root, 'run', '-b', bundle, ID]);
}

describe.skipIf(skip !== null)(`hostile images and volumes${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('a mount destination through a volume\'s symlink creates nothing on the host', async () => {
    const target = hostTarget();
    const before = snapshot(target);
    const volume = volumeWithLink(target);
    const result = await run(['sh', '-c', 'echo ran'], (spec) => {
      spec.mounts.push(volumeMount(volume));
      spec.mounts.push({ destination: '/vol/esc/sub', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
    });
    expect(snapshot(target)).toBe(before);
    // The link is followed inside the container's root, as the container would see it: there,
    // it leads nowhere, and creating the mount point under it fails, naming it.
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/"\/vol\/esc\/sub": ENOENT/);
  });

  it('a volume\'s symlink to a path of the container is followed inside the container', async () => {
    const volume = path.join(dir, 'volume');
    fs.mkdirSync(volume);
    const name = `runcell-in-root-${process.pid}`;
    fs.symlinkSync('/tmp', path.join(volume, 'intmp'));
    const result = await run(['sh', '-c', `grep -c " /tmp/${name} " /proc/self/mountinfo`], (spec) => {
      spec.mounts.push(volumeMount(volume));
      spec.mounts.push({ destination: `/vol/intmp/${name}`, type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('1\n');
    expect(fs.existsSync(`/tmp/${name}`)).toBe(false);
  });

  it('a working directory through a volume\'s symlink creates nothing on the host', async () => {
    const target = hostTarget();
    const before = snapshot(target);
    const volume = volumeWithLink(target);
    const result = await run(['sh', '-c', 'pwd'], (spec) => {
      spec.mounts.push(volumeMount(volume));
      spec.process.cwd = '/vol/esc/work';
    });
    expect(snapshot(target)).toBe(before);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/create the working directory "\/vol\/esc\/work": ENOENT/);
  });

  it('a device path through a volume\'s symlink neither chmods nor chowns a host file', async () => {
    const target = hostTarget();
    const before = snapshot(target);
    const volume = volumeWithLink(target);
    const result = await run(['sh', '-c', 'true'], (spec) => {
      spec.mounts.push(volumeMount(volume));
      spec.linux.devices = [{ path: '/vol/esc/secret', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }];
    });
    expect(snapshot(target)).toBe(before);
    expect(fs.statSync(path.join(target, 'secret')).mode & 0o777).toBe(0o600);
    expect(result.code === 0 || /device/.test(result.stderr), result.stderr).toBe(true);
  });

  it('an image whose /dev is a symlink is refused, and nothing is created where it points', async () => {
    const target = hostTarget();
    const before = snapshot(target);
    const result = await run(['sh', '-c', 'true'], () => {}, (rootfs) => {
      fs.rmSync(path.join(rootfs, 'dev'), { recursive: true });
      fs.symlinkSync(target, path.join(rootfs, 'dev'));
    });
    expect(snapshot(target)).toBe(before);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/"\/dev".*symlink|symlink.*"\/dev"/);
  });

  it('an image\'s /dev/null that points at a host sysctl is never bound over the masked paths', async () => {
    // fs.lease-break-time: not namespaced, harmless, restored if the attack got through.
    const sysctl = '/proc/sys/fs/lease-break-time';
    const original = fs.readFileSync(sysctl, 'utf8');
    const planted = String(Number(original) + 1);
    try {
      const result = await run(['sh', '-c', `echo ${planted} > /proc/timer_list; cat /proc/timer_list | head -c 20 | wc -c`], (spec) => {
        // No /dev mount: the image's own /dev, with its /dev/null.
        spec.mounts = spec.mounts.filter((m: { destination: string }) => !m.destination.startsWith('/dev'));
      }, (rootfs) => {
        fs.mkdirSync(path.join(rootfs, 'proc/sys/fs'), { recursive: true });
        fs.symlinkSync('/proc/sys/fs/lease-break-time', path.join(rootfs, 'dev/null'));
      });
      expect(fs.readFileSync(sysctl, 'utf8')).toBe(original);
      // The image's /dev is the container's (as with runc): its "null" is not the null device,
      // so the container is refused before anything is masked with it.
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/create the device "\/dev\/null": "\/dev\/null" exists and is not that device/);
    } finally {
      if (fs.readFileSync(sysctl, 'utf8') !== original) fs.writeFileSync(sysctl, original);
    }
  });

  it('an image\'s /etc/passwd that points at the host\'s is not read for HOME', async () => {
    // Without a pid namespace of its own, the container's /proc shows the host's processes, and
    // /proc/PID/root of one is the host's root: a link the container (here with CAP_SYS_PTRACE)
    // may follow, not runcell.
    const host = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      const result = await run(['sh', '-c', 'echo "$HOME"; head -c 5 /etc/passwd'], (spec) => {
        spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => n.type !== 'pid');
        for (const set of ['bounding', 'effective', 'permitted']) spec.process.capabilities[set].push('CAP_SYS_PTRACE');
      }, (rootfs) => fs.symlinkSync(`/proc/${host.pid}/root/etc/passwd`, path.join(rootfs, 'etc/passwd')));
      expect(result.code, result.stderr).toBe(0);
      // The link does lead to the host's file (root's line first, home /root) ...
      expect(fs.readFileSync('/etc/passwd', 'utf8').startsWith('root:')).toBe(true);
      expect(result.stdout.split('\n')[1]).toBe('root:');
      // ... and HOME is the default, not what that file says.
      expect(result.stdout.split('\n')[0]).toBe('/');
    } finally {
      host.kill('SIGKILL');
    }
  });

  it('a bound /dev whose null is not the null device fails the masks with a clear error', async () => {
    const sysctl = '/proc/sys/fs/lease-break-time';
    const original = fs.readFileSync(sysctl, 'utf8');
    try {
      const devDir = path.join(dir, 'devdir');
      fs.mkdirSync(devDir);
      fs.symlinkSync('/proc/sys/fs/lease-break-time', path.join(devDir, 'null'));
      const result = await run(['sh', '-c', `echo ${Number(original) + 1} > /proc/timer_list`], (spec) => {
        spec.mounts = spec.mounts.filter((m: { destination: string }) => !m.destination.startsWith('/dev'));
        spec.mounts.push({ destination: '/dev', type: 'bind', source: devDir, options: ['rbind'] });
      });
      expect(fs.readFileSync(sysctl, 'utf8')).toBe(original);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/"\/dev\/null".*null device/);
    } finally {
      if (fs.readFileSync(sysctl, 'utf8') !== original) fs.writeFileSync(sysctl, original);
    }
  });

  it('a relative bind source through an image symlink does not expose the host directory', async () => {
    const target = hostTarget();
    fs.writeFileSync(path.join(target, 'public'), 'host data\n', { mode: 0o644 });
    const result = await run(['sh', '-c', 'cat /x/public'], (spec) => {
      spec.mounts.push({ destination: '/x', type: 'bind', source: 'rootfs/link', options: ['rbind'] });
    }, (rootfs) => {
      fs.symlinkSync(target, path.join(rootfs, 'link'));
    });
    expect(result.stdout).not.toContain('host data');
    expect(result.code).not.toBe(0);
  });
});
