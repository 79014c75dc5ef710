// What a checkpoint holds besides CRIU's images, and what CRIU must be told about the container's
// edges: the mounts and descriptors that come from outside the container, which CRIU cannot
// dump and which a restore must hand back (runc's descriptors.json and external mounts).
//
// - Mounts: a bind mount's source is a host path, a cgroup view shows a directory of a host
//   hierarchy. Both are dumped as external (`mnt[DEST]:DEST`) and bound again on restore from
//   the restoring bundle's source, or from the new container's cgroup in the same hierarchy.
// - Descriptors 0-2 of the process: a pipe or socket is re-attached on restore to the new
//   caller's (inherit_fd, keyed by what it was: "pipe:[INODE]", "socket:[INODE]"); a host file
//   (stdin from the host's /dev/null) is external too (`file[MNT:INODE]`), and re-attached the
//   same way.
// - A terminal (process.terminal): the slave is of the container's own devpts and goes into the
//   image; its master is the console socket's listener's, outside. CRIU dumps such an orphan
//   slave when told (orphan_pts_master, as runc) and on restore makes a new pair in the
//   restored devpts, hands us the master (the orphan-pts-master notification), which goes to
//   the restoring caller's --console-socket.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Spec } from '../oci/spec';

/** `<image>/runcell.json`. */
export interface CheckpointDescription {
  version: 1;
  /** The container checkpointed, for messages. */
  container: string;
  /** For each of descriptors 0-2: the inherit_fd key its replacement gets on restore, or null (dumped with the image). */
  stdio: Array<string | null>;
  mounts: ExternalMount[];
  /** The network namespace was joined by path (config.linux.namespaces): external, joined again on restore. */
  externalNetwork: boolean;
  /** Its stdio was a terminal of the container's devpts: a restore needs a console socket for the new master. */
  terminal?: boolean;
}

export type ExternalMount =
  /** A bind mount of config.json: bound again from the restoring bundle's mount of that destination. */
  | { destination: string; kind: 'bind' }
  /** A directory of a cgroup hierarchy (the container's cgroup view): the new container's, in `hierarchy`. */
  | { destination: string; kind: 'cgroup'; hierarchy: string; cgroupPath: string };

export const DESCRIPTION_FILE = 'runcell.json';
/** runc's: the paths of descriptors 0-2 (readlink), which podman and CRI-O read too. */
export const DESCRIPTORS_FILE = 'descriptors.json';

/** The key CRIU's inherit_fd and --external name a host network namespace by (runc's). */
export const EXTERNAL_NETNS_KEY = 'extRootNetNS';

export interface MountInfo {
  id: number;
  dev: string;
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
const unescape = (field: string) => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));

export function parseMountInfo(text: string): MountInfo[] {
  return text.split('\n').filter((line) => line !== '').map((line) => {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    return {
      id: Number(fields[0]),
      dev: fields[2],
      root: unescape(fields[3]),
      mountPoint: unescape(fields[4]),
      fsType: fields[separator + 1],
      superOptions: (fields[separator + 3] ?? '').split(','),
    };
  });
}

const isBind = (mount: NonNullable<Spec['mounts']>[number]) =>
  mount.type === 'bind' || (mount.options ?? []).some((o) => o === 'bind' || o === 'rbind');

const within = (inner: string, outer: string) => outer === '/' || inner === outer || inner.startsWith(`${outer}/`);

/**
 * The mounts of the process `pid` that CRIU must take as external. A mount from outside the
 * container that is neither a bind of config.json nor a cgroup view is an error naming it: CRIU
 * could not dump it, and a restore could not know what to bind there.
 */
export function externalMounts(pid: number, spec: Spec, containerId: string): { mounts: ExternalMount[]; mountIds: Set<number> } {
  const inside = parseMountInfo(fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
  const host = parseMountInfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  const binds = new Set((spec.mounts ?? []).filter(isBind).map((m) => path.posix.normalize(m.destination)));
  const mounts: ExternalMount[] = [];
  for (const mount of inside) {
    if (mount.mountPoint === '/') continue; // the root: CRIU's --root on restore
    if (binds.has(mount.mountPoint)) {
      mounts.push({ destination: mount.mountPoint, kind: 'bind' });
    } else if ((mount.fsType === 'cgroup' || mount.fsType === 'cgroup2') && mount.root !== '/') {
      // The hierarchy's whole mount on the host: the same superblock with its root at "/".
      const whole = host.find((m) => m.dev === mount.dev && m.root === '/');
      if (whole === undefined) {
        throw new Error(`the container's mount "${mount.mountPoint}" shows cgroup "${mount.root}" of a hierarchy the host has not mounted`);
      }
      mounts.push({ destination: mount.mountPoint, kind: 'cgroup', hierarchy: whole.mountPoint, cgroupPath: mount.root });
    } else if (mount.root !== '/' && !inside.some((m) => m !== mount && m.dev === mount.dev && within(mount.root, m.root))) {
      throw new Error(`the mount "${mount.mountPoint}" of container "${containerId}" shows "${mount.root}" of a file system from outside ` +
        'the container and is not a bind mount of its config.json: CRIU cannot dump it');
    }
  }
  return { mounts, mountIds: new Set(inside.map((m) => m.id)) };
}

/**
 * Descriptors 0-2 of the process `pid`: runc's descriptors.json, the inherit_fd keys for a
 * restore, the --external entries the dump needs for them, and whether one is a terminal of
 * the container's devpts (dumped as an orphan slave, see above).
 */
export function externalStdio(pid: number, mountIds: Set<number>): { paths: string[]; keys: Array<string | null>; external: string[]; terminal: boolean } {
  let terminal = false;
  const paths: string[] = [];
  const keys: Array<string | null> = [];
  const external = new Set<string>();
  for (let fd = 0; fd <= 2; fd++) {
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      paths.push('/dev/null');
      keys.push(null); // not open: nothing to re-attach
      continue;
    }
    paths.push(link);
    const socket = /^socket:\[(\d+)\]$/.exec(link);
    if (link.startsWith('pipe:[')) {
      keys.push(link);
    } else if (socket !== null) {
      // CRIU finds sockets through the process's network namespace (sock_diag): one made in
      // another (Node's 'pipe' stdio is a socketpair of the caller's) it cannot dump at all.
      if (!unixSocketsOf(pid).has(socket[1])) {
        throw new Error(`its descriptor ${fd} is a socket of another network namespace (${link}; Node's 'pipe' stdio is one), which CRIU ` +
          'cannot dump: give the container pipes, files or /dev/null as stdio');
      }
      // A unix socket to a peer outside the container: external by inode.
      external.add(`unix[${socket[1]}]`);
      keys.push(link);
    } else if (/^\/dev\/pts\/\d+$/.test(link) || link === '/dev/console') {
      // A terminal of the container's own devpts: in the image, its master made anew on restore.
      // One of another devpts (the host's) would have no master a restore could make there.
      if (!mountIds.has(mountIdOf(pid, fd))) {
        throw new Error(`its descriptor ${fd} is a terminal (${link}) that is not of the container's own devpts, which CRIU cannot restore`);
      }
      terminal = true;
      keys.push(null);
    } else if (link.startsWith('/')) {
      const mountId = mountIdOf(pid, fd);
      if (mountIds.has(mountId)) {
        keys.push(null); // a file of the container's own: in the image
      } else {
        const key = `file[${mountId.toString(16)}:${fs.statSync(`/proc/${pid}/fd/${fd}`).ino.toString(16)}]`;
        external.add(key);
        keys.push(key);
      }
    } else {
      throw new Error(`its descriptor ${fd} is "${link}", which CRIU cannot take from outside the container`);
    }
  }
  return { paths, keys, external: [...external], terminal };
}

const mountIdOf = (pid: number, fd: number) => Number(/^mnt_id:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1]);

// The inodes of the unix sockets of the network namespace of `pid`.
function unixSocketsOf(pid: number): Set<string> {
  const lines = fs.readFileSync(`/proc/${pid}/net/unix`, 'utf8').split('\n').slice(1);
  return new Set(lines.map((line) => line.trim().split(/\s+/)[6]).filter((ino) => ino !== undefined));
}

/** Reads and checks `<image>/runcell.json`. */
export function readDescription(imagePath: string): CheckpointDescription {
  const file = path.join(imagePath, DESCRIPTION_FILE);
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`'${file}': ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not a runcell checkpoint (no runcell.json)' : (error as Error).message}`);
  }
  const d = value as Partial<CheckpointDescription> | null;
  const fail = (what: string): never => {
    throw new Error(`'${file}': ${what}`);
  };
  if (d === null || typeof d !== 'object' || d.version !== 1) fail('not a checkpoint description of version 1');
  if (!Array.isArray(d!.stdio) || d!.stdio.length !== 3 || !d!.stdio.every((k) => k === null || (typeof k === 'string' && /^(pipe:\[\d+\]|socket:\[\d+\]|file\[[0-9a-f]+:[0-9a-f]+\])$/.test(k)))) {
    fail('"stdio" is not three descriptor keys');
  }
  if (!Array.isArray(d!.mounts) || !d!.mounts.every((m) => typeof m === 'object' && m !== null && typeof m.destination === 'string' &&
    m.destination.startsWith('/') && (m.kind === 'bind' || (m.kind === 'cgroup' && typeof m.hierarchy === 'string' && m.hierarchy.startsWith('/'))))) {
    fail('"mounts" is not a list of external mounts');
  }
  if (typeof d!.externalNetwork !== 'boolean' || typeof d!.container !== 'string') fail('"externalNetwork" or "container" is missing');
  if (d!.terminal !== undefined && typeof d!.terminal !== 'boolean') fail('"terminal" is not a boolean');
  return d as CheckpointDescription;
}
