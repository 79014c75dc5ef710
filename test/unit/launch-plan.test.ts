// The launch-plan builder, without root: what runs where, in which order, with which arguments.
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildExecPlan, buildLaunchPlan, defaultSpec, describeFailure, encodePlan, validateSpec, type Spec } from '../../src';
import { containerPath } from '../../src/container/rootfs-plan';
import { PLAN_FILES, useScratchBundle } from '../helpers/env';

let bundle: string;
useScratchBundle((b) => (bundle = b));
const files = PLAN_FILES;
function spec(edit: (s: any) => void = () => {}): Spec { // eslint-disable-line @typescript-eslint/no-explicit-any
  const s = defaultSpec() as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  s.process.terminal = false;
  s.process.args = ['sh', '-c', 'true'];
  edit(s);
  return validateSpec(s);
}
// The container's cgroup, as a pure v2 host shows it (what a cgroup mount of the spec binds).
const cgroup = { version: 2, directory: '/sys/fs/cgroup/runcell/c' } as const;
const plan = (s: Spec, extraFds = 0) => buildLaunchPlan(s, { bundle, files, extraFds, cgroup });
const ops = (s: Spec) => plan(s).ops.map((o) => o.op);

describe('buildLaunchPlan', () => {
  it('orders the phases: gofer, then init up to pivot_root (the user\'s process mounting procfs), then the user\'s process up to exec', () => {
    const names = ops(spec());
    const phases = names.map((n) => n[0]).join('');
    expect(phases).toMatch(/^g+i+(p+i+)*p*u+$/);
    expect(names.indexOf('i-pivot-root')).toBeGreaterThan(names.lastIndexOf('i-mount'));
    expect(names.indexOf('i-pivot-root')).toBeGreaterThan(names.lastIndexOf('i-mask'));
    expect(names.at(-1)).toBe('u-exec');
    expect(names.indexOf('u-setuid')).toBeLessThan(names.indexOf('u-caps'));
    expect(names.indexOf('u-bounding')).toBeLessThan(names.indexOf('u-setuid'));
  });

  it('mounts in config order, procfs from the user\'s process started before the mounts', () => {
    const p = plan(spec());
    const names = p.ops.map((o) => o.op);
    const destinations = p.ops.filter((o) => o.op === 'i-mount' || o.op === 'i-mount-tmpfs' || o.op === 'p-mount' || o.op === 'i-bind')
      .map((o) => (o.op === 'i-bind' ? o.args[2] : o.args[1]));
    expect(destinations).toEqual(spec().mounts!.map((m) => m.destination));
    const procMount = p.ops.findIndex((o) => o.op === 'p-mount' && o.args[2] === 'proc');
    expect(p.ops[procMount].args[1]).toBe('/proc'); // a path in the container, resolved by the init
    expect(names.indexOf('i-user-clone')).toBeLessThan(procMount);
    expect(names.indexOf('i-open-root')).toBeLessThan(names.indexOf('i-user-clone'));
    expect(names.indexOf('i-mask')).toBeGreaterThan(procMount);
    expect(names.indexOf('i-mask')).toBeLessThan(names.indexOf('i-pivot-root'));
    expect(p.ops.find((o) => o.op === 'i-user-clone')!.args).toEqual([String(0x20000000)]);
  });

  it('names every path in the container, never joined to the root on the host', () => {
    const rootfs = path.join(bundle, 'rootfs');
    const p = plan(spec((s) => {
      s.process.cwd = '/work/dir';
      s.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600 }];
    }));
    const containerSteps = p.ops.filter((o) => /^[ip]-(mount|mkdirs|mknod|symlink|mask|readonly|no-symlink)$/.test(o.op));
    expect(containerSteps.length).toBeGreaterThan(20);
    for (const step of containerSteps) expect(step.args.join(' ')).not.toContain(rootfs);
    expect(p.ops.find((o) => o.op === 'i-mkdirs' && o.args[0] === '/work/dir')).toBeDefined();
    expect(p.ops.find((o) => o.op === 'i-mknod' && o.args[0] === '/dev/fuse')!.args).toEqual(['/dev/fuse', String(0o20600), '10', '229', '0', '0']);
    // Only the root itself is a host path: bound onto itself, opened, pivoted to.
    expect(p.ops.filter((o) => o.args.includes(rootfs)).map((o) => o.op)).toEqual(['i-mount-path', 'i-open-root', 'i-pivot-root']);
  });

  it('fills the image\'s /dev when the spec mounts none (as runc does), unless /dev is bound, and refuses a /dev symlink', () => {
    const image = plan(spec((s) => (s.mounts = s.mounts.filter((m: { destination: string }) => m.destination !== '/dev')))).ops;
    expect(image.filter((o) => o.args[1] === '/dev' && o.op.startsWith('i-mount'))).toEqual([]);
    const firstNode = image.findIndex((o) => o.op === 'i-mknod');
    expect(image[firstNode].args[0]).toBe('/dev/null');
    expect(image.findIndex((o) => o.op === 'i-no-symlink' && o.args[0] === '/dev')).toBeLessThan(firstNode);
    // The links, /dev/ptmx replacing what the image has there.
    expect(image.find((o) => o.op === 'i-symlink' && o.args[1] === '/dev/ptmx')!.args).toEqual(['pts/ptmx', '/dev/ptmx', '1']);
    expect(image.find((o) => o.op === 'i-symlink' && o.args[1] === '/dev/fd')!.args).toEqual(['/proc/self/fd', '/dev/fd', '0']);
    expect(image.some((o) => o.op === 'i-symlink' && o.args[1] === '/dev/core')).toBe(fs.existsSync('/proc/kcore'));
    const bound = plan(spec((s) => {
      s.mounts = s.mounts.filter((m: { destination: string }) => !m.destination.startsWith('/dev'));
      s.mounts.push({ destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] });
    })).ops;
    expect(bound.filter((o) => o.op === 'i-mount' && o.args[1] === '/dev')).toEqual([]);
    expect(bound.some((o) => o.op === 'i-mknod')).toBe(false);
    expect(bound.some((o) => o.op === 'i-no-symlink' && o.args[0] === '/dev')).toBe(true);
  });

  it('resolves a bind source inside the root filesystem in the container, others on the host', () => {
    const p = plan(spec((s) => {
      s.mounts.push({ destination: '/a', type: 'bind', source: 'rootfs/link/x', options: ['rbind'] });
      s.mounts.push({ destination: '/b', type: 'bind', source: 'data', options: ['bind'] });
    }));
    expect(p.ops.find((o) => o.op === 'i-bind' && o.args[2] === '/a')!.args.slice(0, 4)).toEqual(['root', '/link/x', '/a', '1']);
    expect(p.ops.find((o) => o.op === 'i-bind' && o.args[2] === '/b')!.args.slice(0, 4)).toEqual(['host', path.join(bundle, 'data'), '/b', '0']);
  });

  it('applies the propagation of the root to the container\'s root after pivot_root', () => {
    const p = plan(spec((s) => (s.linux.rootfsPropagation = 'shared')));
    const names = p.ops.map((o) => o.op);
    const after = p.ops.findIndex((o, i) => i > names.indexOf('i-pivot-root') && o.op === 'i-mount-path');
    expect(p.ops[after].args).toEqual(['', '/', '', String(1 << 20), '']);
    expect(p.ops.findIndex((o) => o.op === 'i-mount-path' && o.args[1] === '/')).toBeLessThan(names.indexOf('i-open-root'));
  });

  it('puts the init in its cgroup before anything else: cloned into the cgroup2 directory, joining each v1 one itself; the gofer writes cgroup.procs under a manager or in a user namespace', () => {
    const dirs = { unified: '/sys/fs/cgroup/unified/runcell/c', v1: ['/sys/fs/cgroup/cpu/runcell/c', '/sys/fs/cgroup/pids/runcell/c'] };
    const cgroupProcs = [...dirs.v1, dirs.unified].map((d) => `${d}/cgroup.procs`);
    const joined = buildLaunchPlan(spec(), { bundle, files, extraFds: 0, cgroup, cgroupProcs, cgroupDirs: dirs }).ops;
    const names = joined.map((o) => o.op);
    expect(joined.find((o) => o.op === 'g-clone-into')!.args).toEqual([dirs.unified]);
    expect(names).not.toContain('g-cgroup');
    const firstInit = names.findIndex((n) => /^[ip]-/.test(n));
    expect(joined.slice(firstInit, firstInit + 2).map((o) => [o.op, ...o.args])).toEqual(
      dirs.v1.map((d) => ['i-write', `${d}/tasks`, '0']));
    const underManager = buildLaunchPlan(spec(), { bundle, files, extraFds: 0, cgroup, cgroupProcs, cgroupDirs: dirs, cgroupManager: true }).ops;
    const inUserNs = buildLaunchPlan(spec((s) => {
      s.linux.namespaces.push({ type: 'user' });
      s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    }), { bundle, files, extraFds: 0, cgroup, cgroupProcs, cgroupDirs: dirs }).ops;
    for (const other of [underManager, inUserNs]) {
      expect(other.filter((o) => o.op === 'g-cgroup').map((o) => o.args[0])).toEqual(cgroupProcs);
      expect(other.map((o) => o.op)).not.toContain('g-clone-into');
      expect(other.some((o) => o.op === 'i-write' && o.args[0].endsWith('/tasks'))).toBe(false);
    }
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
    expect(p.ops.find((o) => o.op === 'i-bind' && o.args[2] === '/dev/null')!.args.slice(0, 3)).toEqual(['host', '/dev/null', '/dev/null']);
  });

  it('joins namespaces given by path, the pid namespace in the gofer', () => {
    const p = plan(spec((s) => {
      s.linux.namespaces = [{ type: 'mount' }, { type: 'pid', path: '/proc/1/ns/pid' }, { type: 'network', path: '/proc/1/ns/net' }];
      delete s.hostname;
    }));
    expect(p.ops.find((o) => o.op === 'g-join-pid')!.args).toEqual(['/proc/1/ns/pid']);
    expect(p.ops.find((o) => o.op === 'i-setns')!.args).toEqual(['/proc/1/ns/net', String(0x40000000)]);
    expect(p.ops.find((o) => o.op === 'i-user-clone')!.args).toEqual(['0']);
  });

  it('joins a mount namespace by path and sets the root up there; without one, only chroots', () => {
    const joined = plan(spec((s) => (s.linux.namespaces = s.linux.namespaces.map((n: { type: string }) => (n.type === 'mount' ? { type: 'mount', path: '/run/ns/m' } : n)))));
    expect(joined.ops.find((o) => o.op === 'i-setns' && o.args[0] === '/run/ns/m')!.args[1]).toBe(String(0x00020000));
    expect(Number(joined.ops.find((o) => o.op === 'i-unshare')!.args[0]) & 0x00020000).toBe(0);
    expect(joined.ops.map((o) => o.op)).toContain('i-pivot-root');
    const shareMounts = (s: any) => (s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== 'mount')); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(() => plan(spec(shareMounts))).toThrow('config.mounts: needs a mount namespace of the container\'s own');
    const shared = plan(spec((s) => {
      shareMounts(s);
      s.mounts = [];
      s.linux.maskedPaths = [];
      s.linux.readonlyPaths = [];
      s.root.readonly = false;
    })).ops.map((o) => o.op);
    expect(shared).toContain('i-chroot');
    expect(shared.filter((o) => /^[ip]-(mount|bind|pivot|mknod|mask)/.test(o))).toEqual([]);
  });

  it('turns mount options into flags, mount attributes and data', () => {
    const p = plan(spec((s) => {
      s.mounts = [{ destination: '/data', type: 'bind', source: bundle, options: ['rbind', 'ro', 'nosuid', 'rnoexec', 'rprivate'] },
        { destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['nodev', 'mode=755', 'size=1m', 'rro', 'nosymfollow'] },
        { destination: '/c', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'nosuid', 'rnoatime'] }];
    }));
    // bind WHERE SOURCE TARGET RECURSIVE SET CLEAR RSET RCLEAR IDMAP PROPAGATION...
    expect(p.ops.find((o) => o.op === 'i-bind' && o.args[2] === '/data')!.args).toEqual(['host', bundle, '/data', '1', '3', '0', '8', '0', '', String((1 << 18) | 16384)]);
    const tmpfs = p.ops.find((o) => o.op === 'i-mount-tmpfs' && o.args[1] === '/t')!;
    expect(tmpfs.args.slice(2)).toEqual([String(4 | 256), 'mode=755,size=1m']);
    expect(p.ops.find((o) => o.op === 'i-setattr' && o.args[0] === '/t')!.args).toEqual(['/t', '1', '0', '1']);
    expect(p.ops.find((o) => o.op === 'i-tmpcopyup')!.args).toEqual(['/c', 'tmpfs', '2', '']);
    expect(p.ops.find((o) => o.op === 'i-setattr' && o.args[0] === '/c')!.args).toEqual(['/c', String(0x10), String(0x70), '1']);
  });

  it('mounts a read-only tmpfs (or /dev) writable and makes the mount read-only after pivot_root, as runc', () => {
    const p = plan(spec((s) => {
      s.mounts.find((m: { destination: string }) => m.destination === '/dev').options.push('ro');
      s.mounts.push({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['ro', 'nosuid'] },
        { destination: '/m', type: 'mqueue', source: 'mqueue', options: ['ro'] });
    }));
    const names = p.ops.map((o) => o.op);
    expect(p.ops.find((o) => o.op === 'i-mount-tmpfs' && o.args[1] === '/t')!.args[2]).toBe('2');
    expect(Number(p.ops.find((o) => o.op === 'i-mount-tmpfs' && o.args[1] === '/dev')!.args[2]) & 1).toBe(0);
    // Any other filesystem is mounted read-only at once.
    expect(p.ops.find((o) => o.op === 'i-mount' && o.args[1] === '/m')!.args[3]).toBe('1');
    const later = p.ops.map((o, i) => [o, i] as const).filter(([o]) => o.op === 'i-setattr' && o.args[1] === '1' && o.args[3] === '0');
    expect(later.map(([o]) => o.args[0])).toEqual(['/dev', '/t']);
    for (const [, i] of later) expect(i).toBeGreaterThan(names.indexOf('i-pivot-root'));
    expect(later[1][1]).toBeLessThan(names.indexOf('i-remount-ro'));
  });

  it('writes the sysctls through the container\'s procfs, after the hostname, before /proc/sys is made read-only', () => {
    const p = plan(spec((s) => {
      s.hostname = 'h';
      s.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmni': '100' };
    }));
    const names = p.ops.map((o) => o.op);
    const sysctls = p.ops.filter((o) => o.op === 'i-sysctl');
    expect(sysctls.map((o) => o.args)).toEqual([['/proc', 'sys/net/ipv4/ip_forward', '1'], ['/proc', 'sys/kernel/shmmni', '100']]);
    expect(names).not.toContain('i-write'); // never a path of the host's /proc
    const procMount = p.ops.findIndex((o) => o.op === 'p-mount' && o.args[2] === 'proc');
    const first = names.indexOf('i-sysctl');
    expect(first).toBeGreaterThan(procMount);
    expect(first).toBeGreaterThan(names.lastIndexOf('i-mount'));
    expect(first).toBeGreaterThan(names.indexOf('i-sethostname'));
    const readonlySys = p.ops.findIndex((o) => o.op === 'i-readonly' && o.args[0] === '/proc/sys');
    expect(readonlySys).toBeGreaterThan(names.lastIndexOf('i-sysctl'));
    expect(describeFailure(p, first, 18)).toBe('set sysctl net.ipv4.ip_forward: a mount over "/proc/sys/net/ipv4/ip_forward" or a directory above it (below "/proc") would redirect the write (EXDEV)');
  });

  it('refuses kernel.hostname or kernel.domainname beside config.hostname or config.domainname (as runc)', () => {
    expect(() => plan(spec((s) => {
      s.hostname = 'h';
      s.linux.sysctl = { 'kernel.hostname': 'other' };
    }))).toThrow('config.json: config.linux.sysctl: "kernel.hostname" conflicts with config.hostname: give one of them');
    expect(() => plan(spec((s) => {
      s.domainname = 'd';
      s.linux.sysctl = { 'kernel.domainname': 'other' };
    }))).toThrow('"kernel.domainname" conflicts with config.domainname');
    expect(plan(spec((s) => {
      delete s.hostname;
      s.linux.sysctl = { 'kernel.hostname': 'by-sysctl' };
    })).ops.find((o) => o.op === 'i-sysctl')!.args)
      .toEqual(['/proc', 'sys/kernel/hostname', 'by-sysctl']);
  });

  it('makes the read-only paths before the masked ones (runc\'s order)', () => {
    const names = ops(spec());
    expect(names.lastIndexOf('i-readonly')).toBeLessThan(names.indexOf('i-mask'));
  });

  it('makes a device of linux.devices in place of a default one of the same path', () => {
    const p = plan(spec((s) => (s.linux.devices = [{ path: '/dev/null', type: 'c', major: 1, minor: 7, fileMode: 0o600 }])));
    expect(p.ops.filter((o) => o.op === 'i-mknod' && o.args[0] === '/dev/null').map((o) => o.args.slice(1, 4)))
      .toEqual([[String(0o20600), '1', '7']]);
  });

  it('keeps an unbindable root private until pivot_root, then makes the container\'s root unbindable', () => {
    for (const [asked, before, after] of [['unbindable', 1 << 18, 1 << 17], ['runbindable', (1 << 18) | 16384, (1 << 17) | 16384]] as const) {
      const p = plan(spec((s) => (s.linux.rootfsPropagation = asked)));
      const names = p.ops.map((o) => o.op);
      const root = p.ops.filter((o) => o.op === 'i-mount-path' && o.description.includes('propagation of'));
      expect(root.map((o) => o.args[3])).toEqual([String(before), String(after)]);
      expect(p.ops.indexOf(root[1])).toBeGreaterThan(names.indexOf('i-pivot-root'));
    }
  });

  it('drops every capability when process.capabilities is absent', () => {
    const p = plan(spec((s) => delete s.process.capabilities));
    expect(p.ops.find((o) => o.op === 'u-bounding')!.args).toEqual(['0x0']);
    expect(p.ops.find((o) => o.op === 'u-caps')!.args).toEqual(['0x0', '0x0', '0x0']);
    expect(p.ops.find((o) => o.op === 'u-ambient')!.args).toEqual(['0x0']);
  });

  it('looks HOME up in the container\'s /etc/passwd, as root, only when the environment has none', () => {
    const p = plan(spec((s) => (s.process.user = { uid: 1000, gid: 1000 })));
    const names = p.ops.map((o) => o.op);
    expect(p.ops.find((o) => o.op === 'u-home')!.args).toEqual(['1000', '/']);
    expect(names.indexOf('u-home')).toBeLessThan(names.indexOf('u-setuid'));
    expect(ops(spec((s) => s.process.env.push('HOME=/root')))).not.toContain('u-home');
    // An empty HOME is no HOME: it goes, and the one found takes its place.
    const empty = plan(spec((s) => s.process.env.push('HOME=')));
    expect(empty.ops.map((o) => o.op)).toContain('u-home');
    expect(empty.ops.find((o) => o.op === 'u-exec')!.args.filter((a) => a.startsWith('HOME='))).toEqual([]);
  });

  it('makes the namespaces before it takes gid 0 of a new user namespace (runc\'s order: the mqueue\'s owner)', () => {
    const names = ops(spec((s) => {
      s.linux.namespaces.push({ type: 'user' });
      s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 10 }];
      s.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 10 }];
    }));
    expect(names.indexOf('i-setuid')).toBeLessThan(names.indexOf('i-unshare'));
    expect(names.indexOf('i-setgid')).toBe(names.indexOf('i-unshare') + 1);
  });

  it('makes an id-mapped bind\'s user namespace right before the bind that takes it', () => {
    const p = plan(spec((s) => s.mounts.push({ destination: '/v', type: 'bind', source: '/srv', options: ['rbind', 'ridmap'],
      uidMappings: [{ containerID: 0, hostID: 1000, size: 10 }], gidMappings: [{ containerID: 0, hostID: 2000, size: 10 }] })));
    const bind = p.ops.findIndex((o) => o.op === 'i-bind' && o.args[2] === '/v');
    expect(p.ops[bind - 1]).toMatchObject({ op: 'i-idmap-userns', args: ['0 1000 10\n', '0 2000 10\n'] });
    expect(p.ops[bind].args[8]).toBe('ridmap');
    expect(() => plan(spec((s) => s.mounts.push({ destination: '/v', type: 'bind', source: '/srv', options: ['idmap'] }))))
      .toThrow('config.mounts[7].uidMappings: an id-mapped mount needs uidMappings and gidMappings');
    expect(() => plan(spec((s) => s.mounts.push({ destination: '/v', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] }))))
      .toThrow('config.mounts[7]: id-mapped mounts are bind mounts only');
  });

  it('refuses a mount option it does not know, naming it', () => {
    const withOption = (m: object) => () => plan(spec((s) => s.mounts.push(m)));
    expect(withOption({ destination: '/x', type: 'tmpfs', source: 'tmpfs', options: ['sise=1m'] }))
      .toThrow('config.mounts[7].options: unknown option "sise=1m" for a tmpfs mount');
    expect(withOption({ destination: '/x', type: 'bind', source: '/tmp', options: ['rbind', 'size=1m'] }))
      .toThrow('unknown option "size=1m" for a bind mount');
    expect(withOption({ destination: '/x', type: 'bind', source: '/tmp', options: ['rbind', 'sync'] }))
      .toThrow('"sync" sets a flag of the filesystem, which a bind mount cannot change');
    expect(withOption({ destination: '/x', type: 'proc', source: 'proc', options: ['tmpcopyup'] }))
      .toThrow('"tmpcopyup" is an option of tmpfs mounts only');
    // A filesystem runcell has no list for gets its words as data, for the kernel to judge.
    expect(withOption({ destination: '/x', type: 'nfs', source: 'h:/e', options: ['vers=4'] })).not.toThrow();
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

  it('counts the candidates and the arguments of u-exec: an argument may be "--"', () => {
    const exec = plan(spec((s) => {
      s.process.args = ['/init', '--', 'sh'];
      s.process.env = ['A=1'];
    })).ops.find((o) => o.op === 'u-exec')!.args;
    expect(exec).toEqual(['1', '/init', '3', '/init', '--', 'sh', 'A=1']);
  });

  it('sets the loopback up in a new network namespace only, after creating it (as runc)', () => {
    const names = ops(spec());
    expect(names.indexOf('i-link-up')).toBeGreaterThan(names.indexOf('i-unshare'));
    expect(names.indexOf('i-link-up')).toBeLessThan(names.indexOf('i-user-clone'));
    expect(plan(spec()).ops.find((o) => o.op === 'i-link-up')!.args).toEqual(['lo']);
    expect(ops(spec((s) => (s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== 'network'))))).not.toContain('i-link-up');
    expect(ops(spec((s) => (s.linux.namespaces = [{ type: 'mount' }, { type: 'uts' }, { type: 'network', path: '/proc/1/ns/net' }])))).not.toContain('i-link-up');
  });

  it('opens a terminal after pivot_root and attaches it right after setsid, for --console-socket', () => {
    const names = buildLaunchPlan(spec((s) => (s.process.terminal = true)), { bundle, files, extraFds: 0, cgroup, consoleSocket: '/run/c.sock' })
      .ops.map((o) => o.op);
    expect(names).toContain('g-console');
    expect(names.indexOf('i-pty')).toBeGreaterThan(names.indexOf('i-pivot-root'));
    // ... and makes it the stdio of the init and the waiting process at once (the caller's
    // pipes reach EOF when create returns), after the process exists.
    expect(names.indexOf('i-pty-stdio')).toBe(names.indexOf('i-pty') + 1);
    expect(names.indexOf('i-pty-stdio')).toBeGreaterThan(names.indexOf('i-user-clone'));
    expect(names.indexOf('u-console')).toBe(names.indexOf('u-setsid') + 1);
    expect(ops(spec())).not.toContain('i-pty');
    expect(ops(spec())).not.toContain('i-pty-stdio');
  });

  it('keeps --preserve-fds descriptors: closes from 3+N', () => {
    expect(plan(spec(), 2).ops.find((o) => o.op === 'u-close-fds')!.args).toEqual(['5']);
  });

  it('marks descriptors close-on-exec before it loads seccomp, with and without no_new_privs, for run and exec', () => {
    const seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
    for (const noNewPrivileges of [false, true]) {
      const s = spec((x) => {
        x.linux.seccomp = seccomp;
        x.process.noNewPrivileges = noNewPrivileges;
      });
      for (const names of [ops(s), buildExecPlan(s.process!, { cgroupProcs: [], namespaces: [], seccomp }).ops.map((o) => o.op)]) {
        expect(names.indexOf('u-close-fds')).toBeGreaterThan(-1);
        expect(names.indexOf('u-close-fds')).toBeLessThan(names.indexOf('u-seccomp'));
        // Without no_new_privs, loading takes CAP_SYS_ADMIN: before the user and capabilities change.
        if (!noNewPrivileges) expect(names.indexOf('u-seccomp')).toBeLessThan(names.indexOf('u-setuid'));
        else expect(names.indexOf('u-seccomp')).toBe(names.indexOf('u-exec') - 1);
      }
    }
  });
});

describe('exec plan: how the process gets into the container\'s cgroup', () => {
  const procs = ['/sys/fs/cgroup/memory/runcell/c/cgroup.procs', '/sys/fs/cgroup/unified/runcell/c/cgroup.procs'];
  const steps = (p: ReturnType<typeof buildExecPlan>) => p.ops.map((o) => [o.op, ...o.args].join(' '));

  it('v1: the helper writes 0 to tasks; cgroup2: the process is cloned into it and joins the cgroup namespace itself', () => {
    const p = steps(buildExecPlan(spec().process!, {
      cgroupProcs: procs, cgroupUnified: '/sys/fs/cgroup/unified',
      namespaces: [{ type: 'cgroup', fd: 5 }, { type: 'pid', fd: 6 }, { type: 'mount', fd: 7 }],
    }));
    expect(p.slice(0, 5)).toEqual([
      'x-write /sys/fs/cgroup/memory/runcell/c/tasks 0',
      'x-clone-into /sys/fs/cgroup/unified/runcell/c',
      `x-setns-fd 6 ${0x20000000}`,
      `x-setns-fd 7 ${0x00020000}`,
      'x-close 6 7',
    ]);
    // Joined before the clone, the namespace would hide the helper's own cgroup from it.
    expect(p.indexOf('x-clone 0')).toBe(5);
    expect(p[6]).toBe(`u-setns-fd 5 ${0x02000000}`);
    expect(p.some((step) => step.includes('cgroup.procs'))).toBe(false);
  });

  it('across a user namespace, or without knowing the cgroup2 mount, the helper writes cgroup.procs first', () => {
    const userNs = [{ type: 'user', fd: 5 }, { type: 'cgroup', fd: 6 }] as const;
    for (const options of [{ cgroupUnified: '/sys/fs/cgroup/unified', namespaces: [...userNs] }, { namespaces: [{ type: 'cgroup', fd: 5 }] as const }]) {
      const p = steps(buildExecPlan(spec().process!, { cgroupProcs: procs, ...options, namespaces: [...options.namespaces] }));
      expect(p.slice(0, 2)).toEqual(procs.map((file) => `x-write ${file} 0`));
      expect(p.some((step) => step.startsWith('x-clone-into') || step.startsWith('u-setns-fd'))).toBe(false);
    }
  });
});

describe('plan wire format and failures', () => {
  it('encodes records of NUL-terminated tokens, ended by "end"', () => {
    const encoded = encodePlan({ ops: [{ op: 'i-chdir', args: ['/x'], description: '' }] });
    expect(encoded.toString()).toBe('2\0i-chdir\0/x\0' + '1\0end\0');
  });

  it('refuses a value with a NUL byte, which would end its token and make the rest ops of their own', () => {
    const injected = 'A=1\u00002\u0000g-cgroup\u0000/etc/passwd';
    expect(() => plan(spec((s) => s.process.env.push(injected)))).toThrow(/exec "sh": a value holds a NUL byte/);
    expect(() => plan(spec((s) => (s.process.args = ['sh', 'a\u0000b'])))).toThrow(/a value holds a NUL byte/);
    expect(() => encodePlan({ ops: [{ op: 'i-chdir', args: ['/x\u0000'], description: 'enter "/x"' }] })).toThrow(/enter "\/x": a value holds a NUL byte/);
  });

  it('describes a failed step with its errno as podman reads it', () => {
    const p = plan(spec());
    const index = p.ops.findIndex((o) => o.op === 'p-mount' && o.args[2] === 'proc');
    expect(describeFailure(p, index, 1)).toBe('mount "proc" on "/proc": EPERM (operation not permitted)');
    const exec = p.ops.findIndex((o) => o.op === 'i-find-exec');
    expect(describeFailure(p, exec, 2)).toBe('exec "sh": ENOENT (no such file or directory)');
    const mask = p.ops.findIndex((o) => o.op === 'i-mask');
    expect(describeFailure(p, mask, 19)).toBe(`mask "${p.ops[mask].args[0]}": the container's "/dev/null" is not the null device (character 1:3), so it cannot mask anything (ENODEV)`);
  });
});

describe('containerPath', () => {
  // What the plan named before paths already normalized were taken as they are.
  const normalized = (p: string) => path.posix.normalize('/' + p).replace(/(.)\/+$/, '$1');

  it('is the normalized absolute path, whatever the spec wrote', () => {
    const segment = fc.constantFrom('', '.', '..', '...', '.a', 'a.', 'proc', 'dev', 'sh m', '\\', 'ü');
    fc.assert(fc.property(fc.boolean(), fc.array(segment, { maxLength: 6 }), fc.boolean(), (lead, segments, trail) => {
      const p = `${lead ? '/' : ''}${segments.join('/')}${trail ? '/' : ''}`;
      expect(containerPath(p)).toBe(normalized(p));
    }), { numRuns: 2000 });
    for (const p of ['/', '', '/proc', 'proc', '/dev/shm/', '//dev', '/a/./b', '/a/../b', '/..', '/.a/..b', '/a/b/.']) {
      expect(containerPath(p)).toBe(normalized(p));
    }
  });
});
