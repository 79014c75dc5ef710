// The matrix: one config per spec field or mount option, each runc's default spec (`runc spec`,
// whose process is the probe) with one thing changed. Names say which field or option.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hasCapSysResource, waitFor } from '../helpers/env';
import type { Difference, ProbeMount, ProbeReport } from './compare';
import { hostMount, makeShared, runcFeatures, runcVersion, runcVersionAtLeast, type EntryContext, type MatrixEntry, type RuncBug, type Spec } from './harness';

// ---- building blocks ----------------------------------------------------------------------

interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

const addMount = (mount: Mount) => (spec: Spec) => {
  spec.mounts.push(mount);
};

/** A host directory with a file in it, under the entry's own directory. */
function hostDir(ctx: EntryContext, name = 'src'): string {
  const dir = path.join(ctx.dir, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'file'), 'from the host\n');
  return dir;
}

/** A host directory with a tmpfs mounted at `sub` inside it (so rbind and the r* options have
 * a submount to act on); `shared` makes that submount a shared mount on the host. */
function hostDirWithSubmount(ctx: EntryContext, shared = false): string {
  const dir = hostDir(ctx);
  hostMount(ctx, ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'subfs'], path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'file'), 'in the submount\n');
  if (shared) makeShared(path.join(dir, 'sub'));
  return dir;
}

/** An image directory with contents: a file, a subdirectory, a symlink; mode 0750. */
function imageDir(ctx: EntryContext, relative: string): void {
  const dir = path.join(ctx.rootfs, relative);
  fs.mkdirSync(path.join(dir, 'subdir'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'file'), 'from the image\n');
  fs.writeFileSync(path.join(dir, 'subdir', 'nested'), 'nested\n');
  fs.symlinkSync('file', path.join(dir, 'link'));
  fs.chmodSync(dir, 0o750);
}

function imageFile(ctx: EntryContext, relative: string, content = 'from the image\n'): void {
  fs.mkdirSync(path.dirname(path.join(ctx.rootfs, relative)), { recursive: true });
  fs.writeFileSync(path.join(ctx.rootfs, relative), content);
}

function mountOf(spec: Spec, destination: string): Mount {
  const found = spec.mounts.find((m: Mount) => m.destination === destination);
  if (found === undefined) throw new Error(`runc's default spec has no mount on ${destination}`);
  return found;
}

function withoutMounts(spec: Spec, predicate: (m: Mount) => boolean): void {
  spec.mounts = spec.mounts.filter((m: Mount) => !predicate(m));
}

function withoutNamespace(spec: Spec, type: string): void {
  spec.linux.namespaces = spec.linux.namespaces.filter((ns: { type: string }) => ns.type !== type);
}

const nrOpen = () => Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8'));
/** The hard RLIMIT_NOFILE this process (and so either runtime) starts with. */
function callerHardNofile(): number {
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const hard = line?.split(/\s{2,}/)[2];
  return hard === undefined || hard === 'unlimited' ? Infinity : Number(hard);
}

const runcHasMountOption = (option: string) => () =>
  (runcFeatures().mountOptions ?? []).includes(option) ? null : `this runc (runc features) does not know the mount option "${option}"`;

// ---- the entries --------------------------------------------------------------------------

const tmpfsOption = (option: string): MatrixEntry => ({
  name: `mount option ${option} (tmpfs)`,
  edit: addMount({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: [option] }),
});

const bindOption = (option: string): MatrixEntry => ({
  name: `mount option ${option} (bind)`,
  setup: (ctx) => void hostDir(ctx),
  edit: (spec, ctx) => addMount({ destination: '/data', type: 'bind', source: path.join(ctx.dir, 'src'), options: ['bind', option] })(spec),
});

// The r* options act on every mount of a recursive bind: the submount must show them too.
const recursiveOption = (option: string): MatrixEntry => ({
  name: `mount option ${option} (rbind with a submount)`,
  setup: (ctx) => void hostDirWithSubmount(ctx),
  edit: (spec, ctx) => addMount({ destination: '/data', type: 'bind', source: path.join(ctx.dir, 'src'), options: ['rbind', option] })(spec),
  paths: ['/data/sub'],
});

// Propagation of a bind mount whose source has a shared submount on the host.
const bindPropagation = (option: string): MatrixEntry => ({
  name: `mount option ${option} (rbind of a shared host mount)`,
  setup: (ctx) => void hostDirWithSubmount(ctx, true),
  edit: (spec, ctx) => addMount({ destination: '/data', type: 'bind', source: path.join(ctx.dir, 'src'), options: ['rbind', option] })(spec),
  paths: ['/data/sub'],
});

const rootfsPropagation = (value: string, runcBug?: RuncBug): MatrixEntry => ({
  name: `linux.rootfsPropagation ${value}`,
  setup: (ctx) => void hostDirWithSubmount(ctx, true),
  edit: (spec, ctx) => {
    spec.linux.rootfsPropagation = value;
    addMount({ destination: '/data', type: 'bind', source: path.join(ctx.dir, 'src'), options: ['rbind'] })(spec);
  },
  paths: ['/data/sub'],
  runcBug,
});

// ---- bugs of runc 1.1 that runcell does not copy (RuncBug) --------------------------------

const mountsOf = (report: ProbeReport): ProbeMount[] => (Array.isArray(report.mounts) ? report.mounts : []);

/** What is wrong with `report` unless the mounts `which` picks all show the propagation `tag`. */
const propagationIs = (tag: string, which: (m: ProbeMount) => boolean) => (report: ProbeReport): string | null => {
  const picked = mountsOf(report).filter(which);
  if (picked.length === 0) return 'no such mount in the report';
  const wrong = picked.filter((m) => !m.propagation.some((t) => t === tag || t.startsWith(`${tag}:`)));
  return wrong.length === 0 ? null : `not ${tag}: ${wrong.map((m) => `${m.mountPoint} (${m.propagation.join(' ') || 'private'})`).join(', ')}`;
};

const ROOT_PROPAGATION_BUG = 'runc applies rootfsPropagation to the caller\'s "/" before it binds the root filesystem and '
  + 'never to the container\'s own root (runc #1755): "shared" leaves the container\'s root private, "unbindable" makes '
  + 'the bind fail (EINVAL); fixed in runc 1.3.1 (#4724, and #4791 on the 1.2 branch), which applies it after pivot_root, '
  + 'as runcell does';

/** A mount that is a peer group of its own where runc's is private: the propagation applied. */
const sharedWhereRuncPrivate = (d: Difference): boolean => {
  const match = /^mounts\[(.+)\]\.propagation$/.exec(d.field);
  return match !== null && d.runc === '' && d.runcell === `shared:${match[1]}`;
};

const TMPFS_MODE_BUG = 'runc 1.1.5 chmods a tmpfs mounted over a directory to that directory\'s mode after mounting it, '
  + 'overriding a mode= of its options (runc #3911); fixed in runc 1.1.8 (#3916), which puts the directory\'s mode first '
  + 'among the options instead, so that mode= wins and the mode shows in the superblock\'s options, as runcell does';
const tmpfsModeBug = (field: string, runc: string, runcell: string): RuncBug => ({
  reason: TMPFS_MODE_BUG,
  fixedIn: [1, 1, 8],
  explains: (d) => d.field === field && d.runc === runc && d.runcell === runcell,
});

const device = (name: string, dev: Record<string, unknown>): MatrixEntry => ({
  name: `linux.devices ${name}`,
  edit: (spec) => {
    spec.linux.devices = [dev];
  },
  paths: [dev.path as string],
});

export const MATRIX: readonly MatrixEntry[] = [
  { name: 'default config (runc spec)' },

  // ---- mount types ----
  { name: 'mounts: a second proc', edit: addMount({ destination: '/run/proc', type: 'proc', source: 'proc' }) },
  {
    name: 'mounts: sysfs read-write',
    edit: (spec) => {
      mountOf(spec, '/sys').options = ['nosuid', 'noexec', 'nodev'];
    },
  },
  {
    name: 'mounts: tmpfs with size, mode, uid, gid, nr_inodes',
    edit: addMount({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=0700', 'uid=1000', 'gid=1000', 'nr_inodes=100'] }),
  },
  {
    name: 'mounts: tmpfs over a directory of the image',
    setup: (ctx) => imageDir(ctx, 'data'),
    edit: addMount({ destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] }),
    // Both give the tmpfs the directory's mode (0750); runc 1.1.5 by a chmod, unseen by the
    // superblock.
    runcBug: tmpfsModeBug('mounts[/data#0].superOptions', 'rw', 'rw,mode=750'),
  },
  {
    name: 'mounts: devpts with its own modes',
    edit: (spec) => {
      mountOf(spec, '/dev/pts').options = ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0600', 'mode=0600'];
    },
  },
  {
    name: 'mounts: mqueue read-only',
    edit: (spec) => {
      mountOf(spec, '/dev/mqueue').options = ['nosuid', 'noexec', 'nodev', 'ro'];
    },
  },
  {
    name: 'mounts: cgroup read-write',
    edit: (spec) => {
      mountOf(spec, '/sys/fs/cgroup').options = ['nosuid', 'noexec', 'nodev', 'relatime'];
    },
  },
  {
    name: 'mounts: cgroup in a cgroup namespace',
    edit: (spec) => {
      spec.linux.namespaces.push({ type: 'cgroup' });
    },
  },
  {
    name: 'mounts: bind of a directory',
    setup: (ctx) => void hostDir(ctx),
    edit: (spec, ctx) => addMount({ destination: '/data', type: 'bind', source: path.join(ctx.dir, 'src'), options: ['bind'] })(spec),
    paths: ['/data/file'],
  },
  {
    name: 'mounts: bind of a file onto a missing path',
    setup: (ctx) => void hostDir(ctx),
    edit: (spec, ctx) => addMount({ destination: '/etc/bound', type: 'bind', source: path.join(ctx.dir, 'src', 'file'), options: ['bind', 'ro'] })(spec),
  },
  {
    name: 'mounts: bind of a file over a file of the image',
    setup: (ctx) => {
      hostDir(ctx);
      imageFile(ctx, 'etc/hostname', 'image\n');
    },
    edit: (spec, ctx) => addMount({ destination: '/etc/hostname', type: 'bind', source: path.join(ctx.dir, 'src', 'file'), options: ['rbind', 'rw'] })(spec),
  },
  {
    name: 'mounts: bind (not rbind) leaves submounts out',
    setup: (ctx) => void hostDirWithSubmount(ctx),
    edit: (spec, ctx) => addMount({ destination: '/data', type: 'bind', source: path.join(ctx.dir, 'src'), options: ['bind'] })(spec),
    paths: ['/data/sub'],
  },
  {
    name: 'mounts: rbind takes submounts',
    setup: (ctx) => void hostDirWithSubmount(ctx),
    edit: (spec, ctx) => addMount({ destination: '/data', type: 'bind', source: path.join(ctx.dir, 'src'), options: ['rbind'] })(spec),
    paths: ['/data/sub'],
  },
  {
    name: 'mounts: bind with a source relative to the bundle',
    setup: (ctx) => void hostDir(ctx, 'bundle/relative-src'),
    edit: addMount({ destination: '/data', type: 'bind', source: 'relative-src', options: ['rbind'] }),
  },
  {
    name: 'mounts: bind onto missing nested directories',
    setup: (ctx) => void hostDir(ctx),
    edit: (spec, ctx) => addMount({ destination: '/a/b/c', type: 'bind', source: path.join(ctx.dir, 'src'), options: ['rbind'] })(spec),
    paths: ['/a', '/a/b'],
  },
  {
    name: 'mounts: type none with the bind option',
    setup: (ctx) => void hostDir(ctx),
    edit: (spec, ctx) => addMount({ destination: '/data', type: 'none', source: path.join(ctx.dir, 'src'), options: ['rbind', 'ro'] })(spec),
  },

  // ---- mount options ----
  ...['ro', 'nosuid', 'nodev', 'noexec', 'relatime', 'noatime', 'strictatime', 'nodiratime', 'nosymfollow', 'sync', 'dirsync'].map(tmpfsOption),
  ...['ro', 'nosuid', 'nodev', 'noexec', 'noatime', 'nosymfollow'].map(bindOption),
  ...['rro', 'rnosuid', 'rnodev', 'rnoexec', 'rnoatime', 'rrelatime', 'rstrictatime', 'rnodiratime', 'rnosymfollow'].map(recursiveOption),
  {
    name: 'mount option rrw clears a read-only submount',
    setup: (ctx) => {
      const dir = hostDir(ctx);
      hostMount(ctx, ['-t', 'tmpfs', '-o', 'size=1m,ro', 'subfs'], path.join(dir, 'sub'));
    },
    edit: (spec, ctx) => addMount({ destination: '/data', type: 'bind', source: path.join(ctx.dir, 'src'), options: ['rbind', 'rrw'] })(spec),
    paths: ['/data/sub'],
  },
  {
    name: 'mount option tmpcopyup (over a directory of the image)',
    setup: (ctx) => imageDir(ctx, 'data'),
    edit: addMount({ destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'nosuid', 'mode=0755'] }),
    paths: ['/data/file', '/data/subdir', '/data/link'],
    // mode=0755 asked, over a directory of mode 0750.
    runcBug: tmpfsModeBug('paths[/data].lstat.mode', '"0750"', '"0755"'),
  },
  {
    name: 'mount option tmpcopyup (onto a missing directory)',
    edit: addMount({ destination: '/fresh', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup'] }),
  },
  ...['private', 'shared', 'slave', 'unbindable', 'rprivate', 'rshared', 'rslave', 'runbindable'].map(bindPropagation),
  {
    name: 'mounts: rbind of a shared host mount, no propagation option',
    setup: (ctx) => void hostDirWithSubmount(ctx, true),
    edit: (spec, ctx) => addMount({ destination: '/data', type: 'bind', source: path.join(ctx.dir, 'src'), options: ['rbind'] })(spec),
    paths: ['/data/sub'],
  },
  {
    name: 'mount option idmap (bind)',
    requires: runcHasMountOption('idmap'),
    setup: (ctx) => void hostDir(ctx),
    edit: (spec, ctx) => addMount({
      destination: '/data', type: 'bind', source: path.join(ctx.dir, 'src'), options: ['bind', 'idmap'],
      uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }], gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
    } as Mount)(spec),
    paths: ['/data/file'],
  },
  {
    name: 'mount option ridmap (rbind with a submount)',
    requires: runcHasMountOption('ridmap'),
    setup: (ctx) => void hostDirWithSubmount(ctx),
    edit: (spec, ctx) => addMount({
      destination: '/data', type: 'bind', source: path.join(ctx.dir, 'src'), options: ['rbind', 'ridmap'],
      uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }], gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
    } as Mount)(spec),
    paths: ['/data/file', '/data/sub/file'],
  },

  // ---- rootfsPropagation ----
  ...['private', 'rprivate', 'slave', 'rslave'].map((value) => rootfsPropagation(value)),
  rootfsPropagation('shared', {
    reason: ROOT_PROPAGATION_BUG, fixedIn: [1, 3, 1],
    explains: (d) => d.field === 'mounts[/#0].propagation' && sharedWhereRuncPrivate(d),
    check: propagationIs('shared', (m) => m.mountPoint === '/'),
  }),
  rootfsPropagation('rshared', {
    reason: ROOT_PROPAGATION_BUG, fixedIn: [1, 3, 1],
    explains: sharedWhereRuncPrivate,
    check: propagationIs('shared', () => true),
  }),
  // runc binds the root filesystem (MS_BIND) from the unbindable "/": the kernel says EINVAL.
  rootfsPropagation('unbindable', {
    reason: ROOT_PROPAGATION_BUG, fixedIn: [1, 3, 1],
    runcFails: 'runc: "error preparing rootfs: mount <rootfs>:<rootfs>, flags: 0x5000: invalid argument"',
    check: propagationIs('unbindable', (m) => m.mountPoint === '/'),
  }),
  rootfsPropagation('runbindable', {
    reason: ROOT_PROPAGATION_BUG, fixedIn: [1, 3, 1],
    runcFails: 'runc: "error preparing rootfs: mount <rootfs>:<rootfs>, flags: 0x5000: invalid argument"',
    check: propagationIs('unbindable', () => true),
  }),

  // ---- root ----
  { name: 'root.readonly false', edit: (spec) => void (spec.root.readonly = false) },

  // ---- maskedPaths, readonlyPaths ----
  {
    name: 'linux.maskedPaths: a file of the image',
    setup: (ctx) => imageFile(ctx, 'etc/secret'),
    edit: (spec) => void spec.linux.maskedPaths.push('/etc/secret'),
  },
  {
    name: 'linux.maskedPaths: a directory of the image',
    setup: (ctx) => imageDir(ctx, 'secrets'),
    edit: (spec) => void spec.linux.maskedPaths.push('/secrets'),
  },
  { name: 'linux.maskedPaths: a missing path', edit: (spec) => void spec.linux.maskedPaths.push('/does/not/exist') },
  { name: 'linux.maskedPaths: none', edit: (spec) => void (spec.linux.maskedPaths = []) },
  {
    name: 'linux.readonlyPaths: a file of the image (root read-write)',
    setup: (ctx) => imageFile(ctx, 'etc/config'),
    edit: (spec) => {
      spec.root.readonly = false;
      spec.linux.readonlyPaths.push('/etc/config');
    },
  },
  {
    name: 'linux.readonlyPaths: a directory of the image (root read-write)',
    setup: (ctx) => imageDir(ctx, 'data'),
    edit: (spec) => {
      spec.root.readonly = false;
      spec.linux.readonlyPaths.push('/data');
    },
    paths: ['/data/subdir'],
  },
  { name: 'linux.readonlyPaths: a missing path', edit: (spec) => void spec.linux.readonlyPaths.push('/does/not/exist') },
  {
    name: 'linux.readonlyPaths: a tmpfs mount',
    edit: (spec) => {
      addMount({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] })(spec);
      spec.linux.readonlyPaths.push('/scratch');
    },
  },

  // ---- devices and /dev ----
  device('char device with mode and owner', { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600, uid: 1000, gid: 1000 }),
  device('block device', { path: '/dev/loop-test', type: 'b', major: 7, minor: 200, fileMode: 0o660, uid: 0, gid: 6 }),
  device('fifo', { path: '/dev/test-fifo', type: 'p', fileMode: 0o640, uid: 0, gid: 0 }),
  device('in a missing subdirectory', { path: '/dev/net/tun', type: 'c', major: 10, minor: 200, fileMode: 0o666, uid: 0, gid: 0 }),
  device('without fileMode, uid, gid', { path: '/dev/kvm-test', type: 'c', major: 10, minor: 232 }),
  {
    name: 'mounts: /dev bind-mounted from the host',
    edit: (spec) => {
      // The host's /dev/pts and /dev/shm change under other users: the spec's own cover them.
      // /dev/mqueue goes: the host has no such directory, and a runtime would make it there.
      const devMounts = spec.mounts.filter((m: Mount) => m.destination === '/dev/pts' || m.destination === '/dev/shm');
      withoutMounts(spec, (m) => m.destination.startsWith('/dev'));
      spec.mounts.push({ destination: '/dev', type: 'bind', source: '/dev', options: ['rbind', 'nosuid', 'noexec'] }, ...devMounts);
    },
  },
  {
    name: 'mounts: tmpfs /dev with mode 0700 and a size',
    edit: (spec) => {
      mountOf(spec, '/dev').options = ['nosuid', 'mode=0700', 'size=1024k'];
    },
    // The image's /dev is 0755.
    runcBug: tmpfsModeBug('paths[/dev].lstat.mode', '"0755"', '"0700"'),
  },
  {
    name: 'mounts: no /dev mount (the image\'s /dev)',
    edit: (spec) => {
      withoutMounts(spec, (m) => m.destination === '/dev');
      spec.root.readonly = false;
    },
  },

  // ---- process.cwd ----
  { name: 'process.cwd: an existing directory', edit: (spec) => void (spec.process.cwd = '/tmp') },
  { name: 'process.cwd: a missing directory', edit: (spec) => void (spec.process.cwd = '/work') },
  { name: 'process.cwd: missing nested directories', edit: (spec) => void (spec.process.cwd = '/a/b/c') },
  {
    name: 'process.cwd: through a symlink of the image',
    setup: (ctx) => {
      fs.mkdirSync(path.join(ctx.rootfs, 'real', 'dir'), { recursive: true });
      fs.symlinkSync('/real', path.join(ctx.rootfs, 'link'));
    },
    edit: (spec) => void (spec.process.cwd = '/link/dir'),
  },

  // ---- namespaces ----
  {
    name: 'linux.namespaces: no mount namespace',
    // runc then works in its caller's mount namespace (and chroots): a throwaway one here.
    // Masked and read-only paths need a mount namespace of the container's own (below).
    isolateCaller: true,
    runcellRefuses: {
      reason: 'without a mount namespace of its own, runc mounts config.mounts in its caller\'s mount namespace and leaves '
        + 'them there when the container is gone (its delete unmounts nothing); runcell mounts nothing on the host',
      error: /config\.mounts: needs a mount namespace of the container's own/,
    },
    edit: (spec) => {
      withoutNamespace(spec, 'mount');
      spec.linux.maskedPaths = [];
      spec.linux.readonlyPaths = [];
    },
  },
  {
    name: 'linux.namespaces: no mount namespace, with masked paths',
    runcFails: 'runc: "unable to restrict sys entries without a private MNT namespace"',
    isolateCaller: true,
    edit: (spec) => withoutNamespace(spec, 'mount'),
  },
  {
    name: 'linux.namespaces: a mount namespace joined by path',
    setup: async (ctx) => {
      // A mount namespace of its own (a copy of the host's), held by a sleeping process.
      const holder = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sleep', '600'], { stdio: 'ignore' });
      ctx.defer(() => void holder.kill('SIGKILL'));
      const mine = fs.readlinkSync('/proc/self/ns/mnt');
      const nsOf = () => {
        try {
          return fs.readlinkSync(`/proc/${holder.pid}/ns/mnt`);
        } catch {
          return mine;
        }
      };
      await waitFor(() => nsOf() !== mine, 'the holder of the mount namespace to unshare');
      ctx.vars.mountNamespace = `/proc/${holder.pid}/ns/mnt`;
    },
    edit: (spec, ctx) => {
      withoutNamespace(spec, 'mount');
      spec.linux.namespaces.push({ type: 'mount', path: ctx.vars.mountNamespace });
    },
  },
  {
    name: 'linux.namespaces: a user namespace with mappings',
    setup: (ctx) => fs.chmodSync(path.dirname(ctx.dir), 0o755),
    edit: (spec) => {
      spec.linux.namespaces.push({ type: 'user' });
      spec.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      spec.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      // The host's cgroup hierarchy is not the mapped root's to bind (runc's own doc).
      withoutMounts(spec, (m) => m.destination === '/sys/fs/cgroup');
    },
  },

  // ---- uts ----
  { name: 'hostname', edit: (spec) => void (spec.hostname = 'probe-host') },
  {
    name: 'domainname',
    requires: () => (runcVersionAtLeast(1, 2) ? null : `runc ${runcVersion().join('.')} ignores domainname (runc 1.2 sets it)`),
    edit: (spec) => void (spec.domainname = 'probe.domain'),
  },

  // ---- process ----
  {
    name: 'process.rlimits: several limits',
    edit: (spec) => {
      spec.process.rlimits = [
        { type: 'RLIMIT_NOFILE', soft: 512, hard: 2048 },
        { type: 'RLIMIT_CORE', soft: 0, hard: 1048576 },
        { type: 'RLIMIT_NPROC', soft: 100, hard: 200 },
        { type: 'RLIMIT_STACK', soft: 4194304, hard: 8388608 },
      ];
    },
  },
  {
    name: 'process.rlimits: above the caller\'s hard limit',
    requires: () => (hasCapSysResource() ? 'this process has CAP_SYS_RESOURCE, so both runtimes may raise the hard limit'
      : callerHardNofile() >= nrOpen() ? 'the caller\'s hard RLIMIT_NOFILE is the kernel\'s maximum already' : null),
    runcFails: 'raising a hard limit needs CAP_SYS_RESOURCE, which this machine does not grant',
    edit: (spec) => {
      spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: nrOpen() }];
    },
  },
  {
    name: 'process.rlimits: RLIMIT_NOFILE above the kernel\'s maximum (fs.nr_open)',
    runcFails: 'the kernel refuses a RLIMIT_NOFILE above fs.nr_open (EPERM), even with CAP_SYS_RESOURCE',
    edit: (spec) => {
      spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: nrOpen() + 1 }];
    },
  },
  {
    name: 'process.rlimits: soft above hard',
    runcFails: 'setrlimit(2) refuses a soft limit above the hard one (EINVAL)',
    edit: (spec) => {
      spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 2048, hard: 1024 }];
    },
  },
  {
    name: 'process.rlimits: a type listed twice',
    runcellRefuses: {
      reason: 'the runtime-spec says "Each type MUST be unique"; runc 1.1.5 sets both, in turn, and the last one stays',
      error: /config\.process\.rlimits\[1\]\.type: "RLIMIT_NOFILE" is listed twice/,
    },
    edit: (spec) => {
      spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 1024 }, { type: 'RLIMIT_NOFILE', soft: 256, hard: 1024 }];
    },
  },
  {
    name: 'linux.personality LINUX32',
    requires: () => (process.arch === 'x64' ? null : 'LINUX32 is the 32-bit personality of an x86_64 kernel'),
    runcBug: {
      reason: 'runc 1.1.5 ignores linux.personality (runc #4082, released in 1.2.0, sets it with personality(2))',
      fixedIn: [1, 2, 0],
      explains: (d) => d.field === 'personality' && d.runc === '"0x0"' && d.runcell === '"0x8"',
      check: (runcell) => (runcell.personality === '0x8' ? null : `personality is ${String(runcell.personality)}, not 0x8 (PER_LINUX32)`),
    },
    edit: (spec) => void (spec.linux.personality = { domain: 'LINUX32' }),
  },
  {
    name: 'process.user: uid, gid, additionalGids',
    edit: (spec) => {
      spec.process.user = { uid: 1000, gid: 1000, additionalGids: [10, 20] };
    },
  },
  { name: 'process.user.umask', edit: (spec) => void (spec.process.user.umask = 0o077) },
  {
    name: 'process.capabilities: one capability',
    edit: (spec) => {
      const one = ['CAP_NET_BIND_SERVICE'];
      spec.process.capabilities = { bounding: one, effective: one, permitted: one, ambient: one };
    },
  },
  {
    name: 'process.capabilities: ambient with inheritable',
    edit: (spec) => {
      const caps = ['CAP_KILL', 'CAP_NET_BIND_SERVICE'];
      spec.process.capabilities = { bounding: caps, effective: caps, permitted: caps, inheritable: caps, ambient: caps };
    },
  },
  {
    name: 'process.capabilities: empty sets',
    edit: (spec) => {
      spec.process.capabilities = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
    },
  },
  { name: 'process.capabilities: absent', edit: (spec) => void delete spec.process.capabilities },
  { name: 'process.noNewPrivileges false', edit: (spec) => void (spec.process.noNewPrivileges = false) },
  // Raising only: lowering needs CAP_SYS_RESOURCE, which this machine does not grant.
  { name: 'process.oomScoreAdj raised', edit: (spec) => void (spec.process.oomScoreAdj = 500) },
  {
    name: 'process.env with HOME',
    edit: (spec) => void spec.process.env.push('HOME=/home/probe', 'EMPTY='),
  },
  // The two below are about HOME alone: without the cgroup mount, which every other entry
  // compares.
  {
    name: 'process.env without HOME: the user\'s home in the image\'s /etc/passwd',
    setup: (ctx) => imageFile(ctx, 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nprobe:x:1000:1000:Probe:/home/probe:/bin/sh\n'),
    edit: (spec) => {
      spec.process.user = { uid: 1000, gid: 1000 };
      withoutMounts(spec, (m) => m.destination === '/sys/fs/cgroup');
    },
  },
  {
    name: 'process.env with an empty HOME',
    setup: (ctx) => imageFile(ctx, 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'),
    edit: (spec) => {
      spec.process.env.push('HOME=');
      withoutMounts(spec, (m) => m.destination === '/sys/fs/cgroup');
    },
  },

  // ---- sysctls (namespaced ones) ----
  {
    name: 'linux.sysctl: ipc',
    edit: (spec) => {
      spec.linux.sysctl = { 'kernel.shmmax': '1048576', 'kernel.msgmax': '4096', 'fs.mqueue.msg_max': '20' };
    },
  },
  {
    name: 'linux.sysctl: network',
    edit: (spec) => {
      spec.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'net.ipv4.ping_group_range': '0 1000' };
    },
  },
  {
    name: 'linux.sysctl: uts',
    edit: (spec) => {
      spec.linux.sysctl = { 'kernel.domainname': 'by.sysctl' };
    },
  },
];
