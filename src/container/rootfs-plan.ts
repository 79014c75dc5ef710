// The root filesystem's part of the launch plan: config.json's root, mounts, devices, masked and
// read-only paths turned into steps for native/init.
//
// Every path here is a path in the container. Nothing is resolved on the host side: the init
// resolves each one inside the root filesystem (openat2 RESOLVE_IN_ROOT) when it acts on it,
// after the mounts before it are in place, and acts through the descriptor (native/init/
// resolve.c). An image or a volume is hostile input; a symlink in it is followed as the
// container would follow it, never out of the root. Only the bundle's own paths (the root's,
// and bind sources outside the root, chosen by the bundle's author) are host paths.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SpecError, type Device, type Mount, type Spec } from '../oci/spec';
import type { CgroupView } from './cgroup-view';
import type { PlanOp } from './launch-plan';
import { log } from '../log';
import { withMountLabel } from './lsm';
import { native } from '../sys/native';

const MS = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, REMOUNT: 32, MANDLOCK: 64, DIRSYNC: 128,
  NOSYMFOLLOW: 256, NOATIME: 1024, NODIRATIME: 2048, BIND: 4096, REC: 16384, SILENT: 32768,
  UNBINDABLE: 1 << 17, PRIVATE: 1 << 18, SLAVE: 1 << 19, SHARED: 1 << 20, RELATIME: 1 << 21,
  I_VERSION: 1 << 23, STRICTATIME: 1 << 24, LAZYTIME: 1 << 25,
} as const;

// mount_setattr(2)'s attributes (<linux/mount.h>). The atime ones are a 3-bit field.
const ATTR = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, ATIME: 0x70, RELATIME: 0, NOATIME: 0x10, STRICTATIME: 0x20,
  NODIRATIME: 0x80, NOSYMFOLLOW: 0x200000,
} as const;

/** mount(8)'s option words: the MS_ flags they set and clear on a new mount. */
const FLAGS: Record<string, { set: number; clear: number }> = {
  defaults: { set: 0, clear: 0 },
  ro: { set: MS.RDONLY, clear: 0 }, rw: { set: 0, clear: MS.RDONLY },
  nosuid: { set: MS.NOSUID, clear: 0 }, suid: { set: 0, clear: MS.NOSUID },
  nodev: { set: MS.NODEV, clear: 0 }, dev: { set: 0, clear: MS.NODEV },
  noexec: { set: MS.NOEXEC, clear: 0 }, exec: { set: 0, clear: MS.NOEXEC },
  sync: { set: MS.SYNCHRONOUS, clear: 0 }, async: { set: 0, clear: MS.SYNCHRONOUS },
  dirsync: { set: MS.DIRSYNC, clear: 0 },
  mand: { set: MS.MANDLOCK, clear: 0 }, nomand: { set: 0, clear: MS.MANDLOCK },
  noatime: { set: MS.NOATIME, clear: 0 }, atime: { set: 0, clear: MS.NOATIME },
  nodiratime: { set: MS.NODIRATIME, clear: 0 }, diratime: { set: 0, clear: MS.NODIRATIME },
  relatime: { set: MS.RELATIME, clear: 0 }, norelatime: { set: 0, clear: MS.RELATIME },
  strictatime: { set: MS.STRICTATIME, clear: 0 }, nostrictatime: { set: 0, clear: MS.STRICTATIME },
  lazytime: { set: MS.LAZYTIME, clear: 0 }, nolazytime: { set: 0, clear: MS.LAZYTIME },
  iversion: { set: MS.I_VERSION, clear: 0 }, noiversion: { set: 0, clear: MS.I_VERSION },
  silent: { set: MS.SILENT, clear: 0 }, loud: { set: 0, clear: MS.SILENT },
  nosymfollow: { set: MS.NOSYMFOLLOW, clear: 0 }, symfollow: { set: 0, clear: MS.NOSYMFOLLOW },
};

/** The same words as mount attributes, for a bind mount (which keeps its superblock's flags). */
const BIND_ATTRS: Record<string, { set: number; clear: number }> = {
  defaults: { set: 0, clear: 0 },
  ro: { set: ATTR.RDONLY, clear: 0 }, rw: { set: 0, clear: ATTR.RDONLY },
  nosuid: { set: ATTR.NOSUID, clear: 0 }, suid: { set: 0, clear: ATTR.NOSUID },
  nodev: { set: ATTR.NODEV, clear: 0 }, dev: { set: 0, clear: ATTR.NODEV },
  noexec: { set: ATTR.NOEXEC, clear: 0 }, exec: { set: 0, clear: ATTR.NOEXEC },
  nodiratime: { set: ATTR.NODIRATIME, clear: 0 }, diratime: { set: 0, clear: ATTR.NODIRATIME },
  // The atime field is set whole: "atime"/"norelatime"/"nostrictatime" go back to relatime.
  noatime: { set: ATTR.NOATIME, clear: ATTR.ATIME }, atime: { set: ATTR.RELATIME, clear: ATTR.ATIME },
  relatime: { set: ATTR.RELATIME, clear: ATTR.ATIME }, norelatime: { set: ATTR.RELATIME, clear: ATTR.ATIME },
  strictatime: { set: ATTR.STRICTATIME, clear: ATTR.ATIME }, nostrictatime: { set: ATTR.RELATIME, clear: ATTR.ATIME },
  nosymfollow: { set: ATTR.NOSYMFOLLOW, clear: 0 }, symfollow: { set: 0, clear: ATTR.NOSYMFOLLOW },
};

/** The recursive options (runc's "rro" and kin): mount_setattr(AT_RECURSIVE) on every mount. */
const RECURSIVE_ATTRS: Record<string, { set: number; clear: number }> = Object.fromEntries(
  Object.entries(BIND_ATTRS).filter(([word]) => word !== 'defaults').map(([word, attr]) => [`r${word}`, attr]));

export const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/** Every option word the planner knows for any mount (not a filesystem's own data options):
 * what `runcell features` lists as mountOptions. */
export function mountOptionWords(): string[] {
  const words = [...Object.keys(FLAGS), ...Object.keys(BIND_ATTRS), ...Object.keys(RECURSIVE_ATTRS), ...Object.keys(PROPAGATION),
    ...SPECIAL_OPTIONS];
  return [...new Set(words)].sort();
}

// The words parseMountOptions handles by name.
const SPECIAL_OPTIONS = ['bind', 'rbind', 'tmpcopyup', 'idmap', 'ridmap'];

// The options each filesystem takes in its data string (the rest of mount(8)'s words). A type
// not listed here is passed its unknown words as they are, for the filesystem to judge; a bind
// mount has no data at all.
const DATA_OPTIONS: Record<string, string[]> = {
  tmpfs: ['size', 'nr_blocks', 'nr_inodes', 'mode', 'uid', 'gid', 'mpol', 'huge', 'inode32', 'inode64', 'noswap',
    'quota', 'usrquota', 'grpquota', 'usrquota_block_hardlimit', 'usrquota_inode_hardlimit',
    'grpquota_block_hardlimit', 'grpquota_inode_hardlimit', 'noacl', 'acl'],
  devpts: ['newinstance', 'ptmxmode', 'mode', 'gid', 'uid', 'max'],
  mqueue: [],
  proc: ['hidepid', 'gid', 'subset'],
  sysfs: [],
};

interface MountOptions {
  bind: boolean;
  recursive: boolean;
  /** MS_ flags for mount(2) of a new filesystem. */
  flags: number;
  /** mount attributes of a bind's top mount. */
  attrSet: number;
  attrClear: number;
  /** mount attributes of every mount of the tree (the r* options). */
  recursiveSet: number;
  recursiveClear: number;
  propagation: number[];
  data: string[];
  copyUp: boolean;
  /** An id-mapped bind: its top mount ("idmap") or every mount ("ridmap"). */
  idmap: '' | 'idmap' | 'ridmap';
}

export function isBind(mount: Mount): boolean {
  return mount.type === 'bind' || (mount.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

/** A path in the container, as the plan names it: absolute and normalized. */
export function containerPath(p: string): string {
  // Specs give them so nearly always ("/proc", "/dev/shm"): those are taken as they are, which
  // spares a create a few dozen cold runs of path.posix.normalize (~0.7 ms in all).
  if (NORMALIZED_PATH.test(p)) return p;
  return path.posix.normalize('/' + p).replace(/(.)\/+$/, '$1');
}

// "/", or "/"-separated names none of which is "." or "..", without a trailing "/".
const NORMALIZED_PATH = /^(?:\/|(?:\/(?!\.\.?(?:\/|$))[^/]+)+)$/;

function parseMountOptions(mount: Mount, field: string): MountOptions {
  const bind = isBind(mount);
  const type = mount.type ?? '';
  const o: MountOptions = {
    bind, recursive: false, flags: 0, attrSet: 0, attrClear: 0, recursiveSet: 0, recursiveClear: 0,
    propagation: [], data: [], copyUp: false, idmap: '',
  };
  for (const option of mount.options ?? []) {
    if (option === 'bind' || option === 'rbind') {
      o.recursive ||= option === 'rbind';
    } else if (option in PROPAGATION) {
      o.propagation.push(PROPAGATION[option]);
    } else if (option in RECURSIVE_ATTRS) {
      const { set, clear } = RECURSIVE_ATTRS[option];
      o.recursiveSet = (o.recursiveSet & ~clear) | set;
      o.recursiveClear = (o.recursiveClear & ~set) | clear;
    } else if (option === 'tmpcopyup') {
      if (type !== 'tmpfs') throw new SpecError(`${field}: "tmpcopyup" is an option of tmpfs mounts only`);
      o.copyUp = true;
    } else if (bind && option in BIND_ATTRS) {
      o.attrSet = (o.attrSet & ~BIND_ATTRS[option].clear) | BIND_ATTRS[option].set;
      o.attrClear = (o.attrClear & ~BIND_ATTRS[option].set) | BIND_ATTRS[option].clear;
    } else if (bind && option in FLAGS) {
      throw new SpecError(`${field}: "${option}" sets a flag of the filesystem, which a bind mount cannot change`);
    } else if (!bind && option in FLAGS) {
      o.flags = (o.flags & ~FLAGS[option].clear) | FLAGS[option].set;
    } else if (option === 'idmap' || option === 'ridmap') {
      o.idmap = option;
    } else {
      const allowed = bind ? [] : DATA_OPTIONS[type];
      const key = option.split('=')[0];
      if (allowed !== undefined && !allowed.includes(key)) {
        throw new SpecError(`${field}: unknown option "${option}"${bind ? ' for a bind mount' : ` for a ${type} mount`}`);
      }
      o.data.push(option);
    }
  }
  return o;
}

/** Where a bind's source is: a host path, or a path inside the container's root. */
function bindSource(source: string, bundle: string, rootfs: string): ['host' | 'root', string] {
  // "source: ... a path relative to the bundle" (config.md, mounts). One inside the root
  // filesystem goes through the image, and is resolved inside it like any path of the
  // container: an image's symlink must not lead it to the host.
  const absolute = path.resolve(bundle, source);
  const relative = path.relative(rootfs, absolute);
  if (relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative))) return ['root', containerPath(relative)];
  return ['host', absolute];
}

interface RootfsContext {
  bundle: string;
  /** The root filesystem on the host, as the bundle names it. */
  rootfs: string;
  /** The container's own cgroup, which a cgroup mount shows (none: a cgroup mount is refused). */
  cgroup?: CgroupView;
  /** The init makes a new cgroup namespace, once it is in the container's cgroup: its root is
   * that cgroup. */
  newCgroupNs: boolean;
  /** linux.mountLabel where SELinux applies it (lsm.ts): a context= option of the filesystems
   * runc labels (tmpfs, devpts and the like; not proc, sysfs, mqueue, cgroups or binds). */
  mountLabel?: string;
  /** A new user namespace without a network namespace of its own: the kernel refuses a sysfs
   * mount there (it takes CAP_SYS_ADMIN over the network namespace's owner), so a sysfs mount
   * is the host's /sys bound instead, as runc does. */
  sysfsBound?: boolean;
}

function op(name: string, args: Array<string | number>, description: string, hints?: Record<string, string>): PlanOp {
  return { op: name, args: args.map(String), description, ...(hints ? { hints } : {}) };
}

/** The steps of one entry of config.mounts, in the init (p- for procfs: see procPhase). */
function mountOps(mount: Mount, index: number, ctx: RootfsContext): PlanOp[] {
  const field = `config.json: config.mounts[${index}]`;
  const destination = containerPath(mount.destination);
  if (mount.type === 'cgroup' || mount.type === 'cgroup2') return cgroupMountOps(mount, field, destination, ctx);
  if (mount.type === 'sysfs' && ctx.sysfsBound === true && !isBind(mount)) {
    // rbind of the host's /sys, its options for every mount of it (a sysfs has no data
    // options): "ro" keeps the whole tree read-only, the cgroup mounts below /sys/fs too.
    const words = (mount.options ?? []).flatMap((o) => (o in BIND_ATTRS && o !== 'defaults' ? [o, `r${o}`] : [o]));
    return mountOps({ ...mount, type: 'none', source: '/sys', options: ['rbind', ...words] }, index, ctx);
  }
  const o = parseMountOptions(mount, `${field}.options`);
  const what = `mount "${mount.source ?? mount.type ?? ''}" on "${destination}"`;
  const ops: PlanOp[] = [];
  if (destination === '/dev') ops.push(noSymlink('/dev'));
  if (o.bind) {
    if (mount.source === undefined || mount.source === '') throw new SpecError(`${field}.source: a bind mount needs a source`);
    const [where, source] = bindSource(mount.source, ctx.bundle, ctx.rootfs);
    const idmap = o.idmap !== '' || mount.uidMappings !== undefined || mount.gidMappings !== undefined ? o.idmap || 'idmap' : '';
    if (idmap !== '') {
      // The mount's own user namespace, made with its maps right before the bind takes it.
      const map = (m: Mount['uidMappings'], kind: string) => {
        if (m === undefined || m.length === 0) throw new SpecError(`${field}.${kind}Mappings: an id-mapped mount needs uidMappings and gidMappings`);
        return m.map((e) => `${e.containerID} ${e.hostID} ${e.size}`).join('\n') + '\n';
      };
      ops.push(op('i-idmap-userns', [map(mount.uidMappings, 'uid'), map(mount.gidMappings, 'gid')], `make the user namespace of the id-mapped mount "${destination}"`));
    }
    ops.push(op('i-bind', [where, source, destination, o.recursive ? 1 : 0, o.attrSet, o.attrClear, o.recursiveSet, o.recursiveClear, idmap, ...o.propagation], what));
    return ops;
  }
  if (o.idmap !== '' || mount.uidMappings !== undefined || mount.gidMappings !== undefined) {
    throw new SpecError(`${field}: id-mapped mounts are bind mounts only`);
  }
  if (mount.type === 'tmpfs') {
    // A tmpfs over a directory of the image takes that directory's mode, unless its options
    // give one (runc 1.1.8 and later: the directory's mode goes first among the options); a
    // tmpfs on a missing directory keeps its own (1777). native/init's tmpfs steps create the
    // mount point themselves, to know which it was.
    if (o.copyUp) {
      if (ctx.mountLabel !== undefined) throw new SpecError(`${field}.options: "tmpcopyup" cannot be combined with linux.mountLabel`);
      ops.push(op('i-tmpcopyup', [destination, mount.source ?? '', copyUpAttrs(mount, `${field}.options`), o.data.join(',')], `${what} (tmpcopyup)`));
    } else {
      // Mounted writable, and made read-only once the root filesystem is complete (see
      // readOnlyLaterOps), as runc does: mount points and /dev's nodes go in first.
      ops.push(op('i-mount-tmpfs', [mount.source ?? '', destination, readOnlyLater(mount, destination) ? o.flags & ~MS.RDONLY : o.flags, withMountLabel(o.data.join(','), ctx.mountLabel)], what));
    }
  } else {
    // A procfs shows the pid namespace of the process that mounts it: the user's process's.
    const phase = mount.type === 'proc' ? 'p' : 'i';
    ops.push(op('i-mkdirs', [destination, 0o755], `create the mount point "${destination}"`));
    const flags = readOnlyLater(mount, destination) ? o.flags & ~MS.RDONLY : o.flags;
    const label = ['proc', 'sysfs', 'mqueue'].includes(mount.type ?? '') ? undefined : ctx.mountLabel;
    ops.push(op(`${phase}-mount`, [mount.source ?? '', destination, mount.type ?? '', flags, withMountLabel(o.data.join(','), label)], what));
  }
  if ((o.recursiveSet | o.recursiveClear) !== 0) {
    ops.push(op('i-setattr', [destination, o.recursiveSet, o.recursiveClear, 1], `apply the recursive options of "${destination}"`));
  }
  for (const p of o.propagation) ops.push(op('i-propagate', [destination, p], `set the propagation of "${destination}"`));
  return ops;
}

// A cgroup mount (runc's default spec has `/sys/fs/cgroup`, type "cgroup") shows the container's
// own cgroup and nothing else, read-only all the way down, whatever its options say: a
// container must not raise its own limits, freeze another cgroup or move itself out of its
// cgroup. "rw" is ignored (with a warning), not honoured: what a container could safely
// write is only a subtree below its own cgroup (for a systemd inside), and its own cgroup's
// files would come with it wherever the kernel does not guard a cgroup namespace's root (v1,
// hybrid, cgroup2 without nsdelegate).
//  - pure v2 with a new cgroup namespace: a fresh cgroup2 mount. The init joined its cgroup
//    before it unshared the namespace, so the namespace's root, and what the mount shows, is
//    the container's cgroup (as runc and crun do).
//  - pure v2 otherwise (no cgroup namespace, or one joined by path): the container's cgroup
//    directory, bound. Here runc mounts cgroup2 afresh, which in the host's cgroup namespace
//    shows the host's whole tree; a namespace joined by path has a root that is not ours.
//  - v1 and hybrid: a tmpfs with, for each hierarchy, the container's directory bound at
//    `<destination>/<name>` as the host names the hierarchy's mount point (`memory`,
//    `cpu,cpuacct` with `cpu` and `cpuacct` links to it, `unified` for a hybrid's cgroup2), as
//    runc binds them. With a cgroup namespace too: what a fresh mount would show is that same
//    directory.
const CGROUP_ATTRS = ATTR.RDONLY | ATTR.NOSUID | ATTR.NODEV | ATTR.NOEXEC;

function cgroupMountOps(mount: Mount, field: string, destination: string, ctx: RootfsContext): PlanOp[] {
  if (ctx.cgroup === undefined) throw new SpecError(`${field}: a ${mount.type} mount shows the container's own cgroup, and this container has none`);
  if (mount.uidMappings !== undefined || mount.gidMappings !== undefined) throw new SpecError(`${field}: id-mapped mounts are bind mounts only`);
  let set = 0;
  let clear = 0;
  const propagation: number[] = [];
  const ignored: string[] = [];
  for (const option of mount.options ?? []) {
    // Every mount of the view gets the same attributes: "rnoatime" and "noatime" mean the same.
    const word = option in RECURSIVE_ATTRS ? option.slice(1) : option;
    if (option in PROPAGATION) {
      propagation.push(PROPAGATION[option]);
    } else if (word in BIND_ATTRS) {
      set = (set & ~BIND_ATTRS[word].clear) | BIND_ATTRS[word].set;
      clear = (clear & ~BIND_ATTRS[word].set) | BIND_ATTRS[word].clear;
      if ((BIND_ATTRS[word].clear & CGROUP_ATTRS) !== 0) ignored.push(option);
    } else {
      throw new SpecError(`${field}.options: "${option}" is not an option of a ${mount.type} mount, which shows the container's own cgroup (mount attributes and propagation only)`);
    }
  }
  if (ignored.length > 0) log.warn(`${field}.options: ${ignored.map((o) => `"${o}"`).join(', ')} ignored: the container's cgroup is always mounted read-only, nosuid, nodev and noexec`);
  set |= CGROUP_ATTRS;
  clear &= ~CGROUP_ATTRS;
  const view = ctx.cgroup;
  const what = `mount the container's cgroup on "${destination}"`;
  const ops: PlanOp[] = [];
  const attrs = () => op('i-setattr', [destination, set, clear, 1], `make the container's cgroup on "${destination}" read-only`);
  const propagate = () => propagation.map((p) => op('i-propagate', [destination, p], `set the propagation of "${destination}"`));
  // With /sys bound from the host (sysfsBound), /sys/fs/cgroup is already the host's cgroup2,
  // and the kernel refuses a mount of the same filesystem on the root of one of its own mounts
  // (EBUSY): the container's cgroup is bound there instead, which shows the same directory a
  // cgroup2 mount in its cgroup namespace would (runc falls back to that bind on EBUSY too).
  if (view.version === 2 && (!ctx.newCgroupNs || ctx.sysfsBound === true)) {
    // Made read-only while still detached: never writable in the container, not for an instant.
    ops.push(op('i-bind', ['host', view.directory, destination, 1, set, clear, set, clear, '', ...propagation], `bind the container's cgroup "${view.directory}" on "${destination}"`));
    return ops;
  }
  ops.push(op('i-mkdirs', [destination, 0o755], `create the mount point "${destination}"`));
  if (view.version === 2) {
    ops.push(op('i-mount', [mount.source || 'cgroup', destination, 'cgroup2', MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, ''], what));
    ops.push(attrs(), ...propagate());
    return ops;
  }
  ops.push(op('i-mount', ['tmpfs', destination, 'tmpfs', MS.NOSUID | MS.NODEV | MS.NOEXEC, 'mode=755'], what));
  for (const hierarchy of view.hierarchies) {
    const target = `${destination}/${hierarchy.name}`;
    ops.push(op('i-bind', ['host', hierarchy.directory, target, 1, set, clear, set, clear, '', ...propagation], `bind the container's cgroup "${hierarchy.directory}" on "${target}"`));
  }
  for (const hierarchy of view.hierarchies) {
    if (!hierarchy.name.includes(',')) continue;
    for (const controller of hierarchy.name.split(',')) {
      if (controller === '' || view.hierarchies.some((h) => h.name === controller)) continue;
      ops.push(op('i-symlink', [hierarchy.name, `${destination}/${controller}`], `link "${destination}/${controller}" to "${hierarchy.name}"`));
    }
  }
  // The tmpfs, and again every bind on it, read-only once the links are made.
  ops.push(attrs(), ...propagate());
  return ops;
}

// A read-only tmpfs, or /dev, is mounted writable and made read-only after pivot_root (runc's
// finalizeRootfs): its superblock stays writable, only the mount is read-only, and what goes
// into it meanwhile (mount points of later mounts, /dev's nodes) can be made. A tmpcopyup
// tmpfs is filled before it is attached, and made read-only while still detached.
function readOnlyLater(mount: Mount, destination: string): boolean {
  if (isBind(mount) || mount.type === 'cgroup' || mount.type === 'cgroup2') return false;
  if (mount.type !== 'tmpfs' && destination !== '/dev') return false;
  if ((mount.options ?? []).includes('tmpcopyup')) return false;
  let readOnly = false;
  for (const option of mount.options ?? []) {
    if (option === 'ro') readOnly = true;
    else if (option === 'rw') readOnly = false;
  }
  return readOnly;
}

// A tmpcopyup tmpfs is made with the new mount API (see native/init's tmpfs_copyup): its flags
// are mount attributes, and a word that is a flag of the superblock has none.
function copyUpAttrs(mount: Mount, field: string): number {
  let attrs = 0;
  for (const option of mount.options ?? []) {
    if (option in BIND_ATTRS) attrs = (attrs & ~BIND_ATTRS[option].clear) | BIND_ATTRS[option].set;
    else if (option in FLAGS) throw new SpecError(`${field}: "${option}" cannot be combined with "tmpcopyup"`);
  }
  return attrs;
}

function noSymlink(p: string): PlanOp {
  return op('i-no-symlink', [p], `check "${p}"`, { ELOOP: `"${p}" is a symlink in the image, which runcell refuses` });
}

// The devices every container gets, in runc's order (its AllowedDevices; a user namespace
// shows the order, each one being a bind mount there), and the links /dev is expected to have.
const DEFAULT_DEVICES: Device[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3 }, { path: '/dev/random', type: 'c', major: 1, minor: 8 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7 }, { path: '/dev/tty', type: 'c', major: 5, minor: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5 }, { path: '/dev/urandom', type: 'c', major: 1, minor: 9 },
].map((d) => ({ ...d, fileMode: 0o666, uid: 0, gid: 0 }));
const DEV_SYMLINKS: Array<[string, string]> = [
  ['/proc/self/fd', '/dev/fd'], ['/proc/self/fd/0', '/dev/stdin'], ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
];

export interface RootfsOptions extends RootfsContext {
  /**
   * The container is in a user namespace other than the host's (a new one, or the one runcell
   * itself runs in, rootless podman's): devices are bound from the host (mknod is refused there).
   */
  inUserNs: boolean;
}

/**
 * The root filesystem up to (not including) pivot_root: the root bound onto itself and
 * opened (the descriptor every later path is resolved in), then `beforeMounts` (the step that
 * starts the user's process), the mounts in config order, /dev, `beforePathRules` (what is
 * written through the container's procfs, which the read-only paths, /proc/sys among them,
 * would refuse), then the read-only and masked paths.
 */
export function rootfsOps(spec: Spec, options: RootfsOptions, beforeMounts: PlanOp[], beforePathRules: PlanOp[] = []): PlanOp[] {
  const { rootfs } = options;
  const ops: PlanOp[] = [];
  const mounts = spec.mounts ?? [];
  const rootPropagation = spec.linux?.rootfsPropagation;
  // As runc: "/" rslave (or as asked) in our namespace, so nothing we mount reaches the host;
  // the mount holding the root private, so the bind below propagates nowhere and pivot_root
  // (which refuses a shared parent) works; the requested propagation is applied to the
  // container's own root after pivot_root (afterPivotOps). An unbindable one is private
  // until then: nothing could be bound from an unbindable "/", the root filesystem first
  // (runc 1.1 binds it and fails with EINVAL, runc #1755; runc 1.3.1 applies it after
  // pivot_root too).
  const asked = rootPropagation === undefined ? MS.SLAVE | MS.REC : PROPAGATION[rootPropagation];
  const rootFlags = (asked & MS.UNBINDABLE) !== 0 ? (asked & ~MS.UNBINDABLE) | MS.PRIVATE : asked;
  const rootWord = rootPropagation === undefined ? 'rslave' : rootPropagation.replace('unbindable', 'private');
  ops.push(op('i-mount-path', ['', '/', '', rootFlags, ''], `make the propagation of "/" ${rootWord}`));
  const parent = mountPointOf(rootfs);
  if (parent !== undefined) ops.push(op('i-mount-path', ['', parent, '', MS.PRIVATE, ''], `make the mount "${parent}" private`));
  ops.push(op('i-mount-path', [rootfs, rootfs, '', MS.BIND | MS.REC, ''], `bind the root filesystem "${rootfs}"`));
  ops.push(op('i-open-root', [rootfs], `open the root filesystem "${rootfs}"`));
  ops.push(...beforeMounts);

  const devMount = mounts.find((m) => containerPath(m.destination) === '/dev');
  // Without a /dev mount, /dev is the image's directory (as with runc), never a symlink.
  if (devMount === undefined) ops.push(noSymlink('/dev'));
  mounts.forEach((mount, index) => ops.push(...mountOps(mount, index, options)));

  // /dev is filled unless it is bound from elsewhere (runc: "needsSetupDev"): the default
  // devices (those linux.devices names again are its to describe), linux.devices, the links.
  if (devMount === undefined || !isBind(devMount)) {
    const specDevices = spec.linux?.devices ?? [];
    const given = new Set(specDevices.map((d) => containerPath(d.path)));
    const devices = [...DEFAULT_DEVICES.filter((d) => !given.has(d.path)), ...specDevices];
    for (const device of devices) ops.push(...deviceOps(device, options.inUserNs));
    const links = [...DEV_SYMLINKS];
    // /dev/core only where this kernel has a /proc/kcore (CONFIG_PROC_KCORE), as runc does.
    if (fs.existsSync('/proc/kcore')) links.push(['/proc/kcore', '/dev/core']);
    for (const [target, link] of links) ops.push(op('i-symlink', [target, link, 0], `link "${link}" to "${target}"`));
    // The container's devpts's ptmx, replacing any /dev/ptmx the image has (a node of the
    // host's devpts would allocate its terminals there).
    ops.push(op('i-symlink', ['pts/ptmx', '/dev/ptmx', 1], 'link "/dev/ptmx" to "pts/ptmx"'));
  }
  ops.push(...beforePathRules);
  // runc's order: the read-only paths, then the masked ones.
  for (const readonly of spec.linux?.readonlyPaths ?? []) ops.push(op('i-readonly', [containerPath(readonly)], `make "${readonly}" read-only`));
  const nullHint = { ENODEV: 'the container\'s "/dev/null" is not the null device (character 1:3), so it cannot mask anything' };
  for (const masked of spec.linux?.maskedPaths ?? []) ops.push(op('i-mask', [containerPath(masked)], `mask "${masked}"`, nullHint));
  return ops;
}

function deviceOps(device: Device, inUserNs: boolean): PlanOp[] {
  const target = containerPath(device.path);
  if (inUserNs) {
    // mknod is not allowed in a user namespace: bind the host's node instead.
    return [op('i-bind', ['host', device.path, target, 0, 0, 0, 0, 0, ''], `bind the device "${device.path}"`)];
  }
  const typeBits = device.type === 'b' ? 0o060000 : device.type === 'p' ? 0o010000 : 0o020000;
  const mode = typeBits | ((device.fileMode ?? 0o666) & 0o7777);
  return [op('i-mknod', [target, mode, device.major ?? 0, device.minor ?? 0, device.uid ?? 0, device.gid ?? 0], `create the device "${device.path}"`,
    { EEXIST: `"${device.path}" exists and is not that device` })];
}

/** After pivot_root: the requested propagation, now on the container's own root; then the
 * read-only tmpfs mounts (and /dev) made read-only, in config order (readOnlyLater). */
export function afterPivotOps(spec: Spec): PlanOp[] {
  const ops: PlanOp[] = [];
  const rootPropagation = spec.linux?.rootfsPropagation;
  if (rootPropagation !== undefined) {
    ops.push(op('i-mount-path', ['', '/', '', PROPAGATION[rootPropagation], ''], `make the propagation of the container's "/" ${rootPropagation}`));
  }
  for (const mount of spec.mounts ?? []) {
    const destination = containerPath(mount.destination);
    if (readOnlyLater(mount, destination)) ops.push(op('i-setattr', [destination, ATTR.RDONLY, 0, 0], `make "${destination}" read-only`));
  }
  return ops;
}

/** The mount point of the mount that holds `file` (in this process's mount namespace: the
 * init's starts as a copy of ours). */
export function mountPointOf(file: string): string | undefined {
  let real: string;
  try {
    real = fs.realpathSync.native(file);
  } catch {
    return undefined;
  }
  // The nearest of its directories that is the root of a mount, as statx tells (Linux 5.8): a
  // few statx instead of a read of the whole mountinfo (~50 us in the kernel) and its parse.
  try {
    for (let dir = real; ; dir = path.dirname(dir)) {
      const root = native.mountRoot(dir);
      if (root === null) break; // the kernel does not say: mountinfo does
      if (root || dir === '/') return dir;
    }
  } catch {
    // gone meanwhile, or not ours to look at: mountinfo says what it can
  }
  return mountPointFromMountinfo(real);
}

/** The longest mount point of this process's mountinfo that holds the real path `real`. */
export function mountPointFromMountinfo(real: string): string | undefined {
  let info: string;
  try {
    info = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  let best: string | undefined;
  for (const line of info.split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint === undefined) continue;
    const point = unescape(mountPoint);
    const inside = point === '/' || real === point || real.startsWith(point + '/');
    if (inside && (best === undefined || point.length > best.length)) best = point;
  }
  return best;
}
