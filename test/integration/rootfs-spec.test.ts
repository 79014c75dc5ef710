// The root filesystem as the spec describes it: mounts in config order, rootfsPropagation,
// recursive and symlink options, tmpcopyup, a joined mount namespace. Real containers, as root.
import * as child from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runcell, useScratch } from '../helpers/env';
import { mountPointFromMountinfo, mountPointOf } from '../../src/container/rootfs-plan';
import { makeBundle, whyNoContainers, type SpecEdit } from '../helpers/bundle';

const skip = whyNoContainers();
let dir: string;
let root: string;
const ID = `rs${process.pid}`;
useScratch((d, r) => {
  dir = d;
  root = r;
});

async function run(args: string[], edit: SpecEdit, prepare: (rootfs: string) => void = () => {}) {
  const bundle = path.join(dir, 'bundle');
  makeBundle(bundle, args, edit);
  prepare(path.join(bundle, 'rootfs'));
  return runcell(['--root', root, 'run', '-b', bundle, ID]);
}

/** The mount points of the container's mountinfo, in its order. */
const mountPoints = (mountinfo: string) => mountinfo.trim().split('\n').map((line) => line.split(' ')[4]);

describe.skipIf(skip !== null)(`the root filesystem, exact to the spec${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('mounts in config order, /proc ones included', async () => {
    let destinations: string[] = [];
    const result = await run(['cat', '/proc/self/mountinfo'], (spec) => {
      spec.mounts.push({ destination: '/proc/tty', type: 'tmpfs', source: 'tmpfs', options: ['size=1k'] });
      spec.mounts.push({ destination: '/late', type: 'tmpfs', source: 'tmpfs', options: ['size=1k'] });
      spec.mounts.push({ destination: '/proc/version', type: 'bind', source: '/dev/null', options: ['bind'] });
      destinations = spec.mounts.map((m: { destination: string }) => m.destination);
    });
    expect(result.code, result.stderr).toBe(0);
    const seen = mountPoints(result.stdout).filter((p) => destinations.includes(p));
    expect(seen).toEqual(destinations);
  });

  it('makes a mount point whatever it lacks: all of it, its last directory, or nothing (0755 where made)', async () => {
    let destinations: string[] = [];
    const result = await run(['sh', '-c', 'cat /proc/self/mountinfo; stat -c "%n %a" /new /new/deep /var/up'], (spec) => {
      // Three missing levels (the walk), a missing last directory under one that exists, and
      // one that exists.
      spec.mounts.push({ destination: '/new/deep/dir', type: 'tmpfs', source: 'tmpfs', options: ['size=1k'] });
      spec.mounts.push({ destination: '/var/up', type: 'tmpfs', source: 'tmpfs', options: ['size=1k'] });
      spec.mounts.push({ destination: '/var/there', type: 'tmpfs', source: 'tmpfs', options: ['size=1k'] });
      destinations = ['/new/deep/dir', '/var/up', '/var/there'];
    }, (rootfs) => fs.mkdirSync(path.join(rootfs, 'var', 'there'), { recursive: true, mode: 0o700 }));
    expect(result.code, result.stderr).toBe(0);
    expect(mountPoints(result.stdout).filter((p) => destinations.includes(p))).toEqual(destinations);
    expect(result.stdout.trim().split('\n').slice(-3)).toEqual(['/new 755', '/new/deep 755', '/var/up 1777']);
  });

  it('finds the mount that holds the root filesystem by statx as mountinfo does: a bind of a subdirectory, a symlink to it, the host\'s root', () => {
    const source = path.join(dir, 'src', 'deep');
    const target = path.join(dir, 'bound');
    fs.mkdirSync(path.join(source, 'rootfs'), { recursive: true });
    fs.mkdirSync(target);
    fs.symlinkSync(path.join(target, 'rootfs'), path.join(dir, 'link'));
    child.execFileSync('mount', ['--bind', source, target]);
    try {
      for (const file of [path.join(target, 'rootfs'), target, path.join(dir, 'link'), '/', '/proc/self', dir]) {
        const real = fs.realpathSync(file);
        expect(mountPointOf(file), file).toBe(mountPointFromMountinfo(real));
      }
      expect(mountPointOf(path.join(dir, 'link'))).toBe(target);
      expect(mountPointOf(path.join(dir, 'missing'))).toBeUndefined();
    } finally {
      child.execFileSync('umount', [target]);
    }
  });

  it('applies rootfsPropagation "shared" to the container\'s root after pivot_root', async () => {
    const result = await run(['head', '-1', '/proc/self/mountinfo'], (spec) => {
      spec.linux.rootfsPropagation = 'shared';
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/ shared:\d+ /);
  });

  it('makes every mount of a bind read-only with "rro", and refuses symlinks with "nosymfollow"', async () => {
    const volume = path.join(dir, 'volume');
    fs.mkdirSync(path.join(volume, 'sub'), { recursive: true });
    child.execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', path.join(volume, 'sub')]);
    try {
      fs.writeFileSync(path.join(volume, 'target'), 'through the link\n');
      fs.symlinkSync('target', path.join(volume, 'link'));
      const result = await run(['sh', '-c', 'touch /v/x 2>/dev/null || echo top-ro; touch /v/sub/x 2>/dev/null || echo sub-ro; cat /n/link 2>/dev/null || echo no-follow; cat /n/target'], (spec) => {
        spec.mounts.push({ destination: '/v', type: 'bind', source: volume, options: ['rbind', 'rro'] });
        spec.mounts.push({ destination: '/n', type: 'bind', source: volume, options: ['bind', 'nosymfollow'] });
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe('top-ro\nsub-ro\nno-follow\nthrough the link\n');
    } finally {
      child.execFileSync('umount', [path.join(volume, 'sub')]);
    }
  });

  it('copies a directory\'s contents into its tmpfs with "tmpcopyup", as podman run --read-only asks', async () => {
    let rootfs = '';
    const result = await run(['sh', '-c', 'cat /run/keep/file; readlink /run/link; stat -c "%a %u" /run; echo new > /run/new && cat /run/new'], (spec) => {
      spec.root.readonly = true;
      spec.mounts.push({ destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['rw', 'nosuid', 'nodev', 'tmpcopyup'] });
    }, (r) => {
      rootfs = r;
      fs.mkdirSync(path.join(r, 'run/keep'), { recursive: true });
      fs.writeFileSync(path.join(r, 'run/keep/file'), 'from the image\n');
      fs.symlinkSync('keep/file', path.join(r, 'run/link'));
      fs.chmodSync(path.join(r, 'run'), 0o1777);
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('from the image\nkeep/file\n1777 0\nnew\n');
    expect(fs.existsSync(path.join(rootfs, 'run/new'))).toBe(false);
  });

  it('gives a tmpfs the mode of the directory it covers unless mode= says otherwise, and a read-only one a writable superblock', async () => {
    const result = await run(['sh', '-c', 'stat -c "%a" /a /b /c; grep -E " /(a|b|c) " /proc/self/mountinfo | cut -d" " -f5,6,9-'], (spec) => {
      spec.mounts.push({ destination: '/a', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
      spec.mounts.push({ destination: '/b', type: 'tmpfs', source: 'tmpfs', options: ['mode=0700'] });
      spec.mounts.push({ destination: '/c', type: 'tmpfs', source: 'tmpfs', options: ['ro'] });
    }, (rootfs) => {
      for (const d of ['a', 'b']) {
        fs.mkdirSync(path.join(rootfs, d));
        fs.chmodSync(path.join(rootfs, d), 0o1750);
      }
    });
    expect(result.code, result.stderr).toBe(0);
    // /c did not exist: the tmpfs keeps its own mode.
    expect(result.stdout).toBe(['1750', '700', '1777',
      '/a rw,nosuid,relatime tmpfs rw,mode=1750', '/b rw,relatime tmpfs rw,mode=700', '/c ro,relatime tmpfs rw', ''].join('\n'));
  });

  it('makes the nodes of linux.devices (and their missing directories) without allowing them: that is linux.resources.devices\'s', async () => {
    const open = 'for d in /dev/net/tun /dev/kvm-test; do head -c 0 $d 2>/dev/null && echo "$d opens" || echo "$d refused"; done';
    const devices = [{ path: '/dev/net/tun', type: 'c', major: 10, minor: 200, fileMode: 0o666 }, { path: '/dev/kvm-test', type: 'c', major: 10, minor: 232 }];
    const denied = await run(['sh', '-c', `ls -l /dev/kvm-test | cut -c1-10; ${open}`], (spec) => {
      spec.linux.devices = devices;
    });
    expect(denied.code, denied.stderr).toBe(0);
    // /dev/net/tun is in runc's default list; the other needs its own rule.
    expect(denied.stdout).toBe('crw-rw-rw-\n/dev/net/tun opens\n/dev/kvm-test refused\n');
    const allowed = await run(['sh', '-c', open], (spec) => {
      spec.linux.devices = devices;
      spec.linux.resources.devices.push({ allow: true, type: 'c', major: 10, minor: 232, access: 'rw' });
    });
    expect(allowed.stdout).toBe('/dev/net/tun opens\n/dev/kvm-test opens\n');
  });

  it('makes the read-only paths, then masks the masked ones: a directory under an empty read-only tmpfs', async () => {
    const result = await run(['sh', '-c', 'grep -E " /proc/(bus|acpi) " /proc/self/mountinfo | cut -d" " -f5,6,9-'], () => {});
    expect(result.code, result.stderr).toBe(0);
    // mount point, mount options, source, superblock options
    expect(result.stdout).toBe('/proc/bus ro,relatime proc rw\n/proc/acpi ro,relatime tmpfs ro\n');
  });

  it('refuses a mount option it does not know, naming it', async () => {
    const result = await run(['true'], (spec) => {
      spec.mounts.push({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['sise=1m'] });
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/unknown option "sise=1m" for a tmpfs mount/);
  });

  it('sets the root filesystem up inside a mount namespace joined by path', async () => {
    // A mount namespace kept alive by a bind mount of its /proc/PID/ns/mnt onto a file.
    const pin = path.join(dir, 'mntns');
    fs.writeFileSync(pin, '');
    child.execFileSync('unshare', [`--mount=${pin}`, '--propagation', 'private', 'true']);
    try {
      const inode = fs.statSync(pin).ino;
      const result = await run(['sh', '-c', 'readlink /proc/self/ns/mnt; ls /bin/busybox'], (spec) => {
        spec.linux.namespaces = spec.linux.namespaces.map((ns: { type: string }) => (ns.type === 'mount' ? { type: 'mount', path: pin } : ns));
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe(`mnt:[${inode}]\n/bin/busybox\n`);
    } finally {
      child.execFileSync('umount', [pin]);
    }
  });

  it('shares the caller\'s mount namespace when the spec has no mount entry, in a chroot', async () => {
    const result = await run(['sh', '-c', 'readlink /proc/self/ns/mnt 2>/dev/null || echo no-proc; ls /bin/busybox'], (spec) => {
      spec.linux.namespaces = spec.linux.namespaces.filter((ns: { type: string }) => ns.type !== 'mount');
      spec.mounts = [];
      spec.linux.maskedPaths = [];
      spec.linux.readonlyPaths = [];
      spec.root.readonly = false;
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('no-proc\n/bin/busybox\n');
  });

  it('id-maps a bind mount with its uidMappings and gidMappings', async () => {
    const volume = path.join(dir, 'volume');
    fs.mkdirSync(volume);
    fs.writeFileSync(path.join(volume, 'file'), 'x');
    fs.chownSync(path.join(volume, 'file'), 0, 0);
    const result = await run(['sh', '-c', 'stat -c "%u %g" /v/file; grep -c " /v .*idmapped" /proc/self/mountinfo'], (spec) => {
      spec.mounts.push({ destination: '/v', type: 'bind', source: volume, options: ['rbind', 'idmap'],
        uidMappings: [{ containerID: 0, hostID: 1234, size: 1 }], gidMappings: [{ containerID: 0, hostID: 4321, size: 1 }] });
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('1234 4321\n1\n');
    expect(fs.statSync(path.join(volume, 'file')).uid).toBe(0);
  });
});
