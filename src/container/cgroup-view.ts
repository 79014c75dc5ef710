// What a container sees at a `cgroup` or `cgroup2` mount of config.mounts: its own cgroup and
// nothing else. This module says which of the host's cgroup directories that is; the steps
// that mount them read-only in the container are rootfs-plan's (cgroupMountOps).
//
// The host's whole tree would let a container with a few capabilities freeze another cgroup,
// raise its own pids.max, or move itself into the root cgroup; and a container that sees the
// host's root reads its memory limit as unlimited (Java and Go size themselves from it).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isPureV2, type Cgroup, type CgroupLayout } from './cgroups';
import { ContainerError } from './errors';

/** One hierarchy as the container sees it: `<destination>/<name>` is `directory`. */
export interface CgroupHierarchyView {
  /** The hierarchy's directory name under the destination, as the host names its mount point:
   * `memory`, `cpu,cpuacct`, `unified` (the cgroup2 mount of a hybrid host). */
  name: string;
  /** The container's own cgroup in that hierarchy: a host path, runcell's own (not the bundle's). */
  directory: string;
}

export type CgroupView =
  /** Pure cgroup v2: one hierarchy, the destination is the container's cgroup itself. */
  | { version: 2; directory: string }
  /** v1, or hybrid (v1 controllers and a cgroup2 mount): a directory for each hierarchy. */
  | { version: 1; hierarchies: CgroupHierarchyView[] };

/**
 * The view of a container's cgroup, from its directories (one per hierarchy, as
 * Cgroup.directories() lists them) and the host's mount points. A named hierarchy that runcell
 * makes no cgroup in (name=systemd) is not shown: the container's directory there would be
 * its caller's, shared with the host's other processes.
 */
export function cgroupViewOf(cgroup: Cgroup): CgroupView {
  return viewOfDirectories(cgroup.layout, cgroup.directories());
}

/**
 * The view of the cgroups this process is in (/proc/self/cgroup), for a rootless container that
 * has no cgroup of its own: its processes stay in the caller's, which runc shows there too. The
 * user could read those directories anyway; the mount is read-only as ever.
 */
export function callerCgroupView(layout: CgroupLayout, procSelfCgroup = fs.readFileSync('/proc/self/cgroup', 'utf8')): CgroupView {
  const directories: string[] = [];
  for (const line of procSelfCgroup.split('\n')) {
    const match = /^\d+:([^:]*):(\/.*)$/.exec(line);
    if (match === null) continue;
    const [, controllers, cgroupPath] = match;
    if (cgroupPath.split('/').includes('..')) throw new ContainerError('ERR_INVALID_STATE', `this process's cgroup "${cgroupPath}" is not a plain path`);
    if (controllers === '') {
      if (layout.unified !== null) directories.push(path.join(layout.unified, cgroupPath));
      continue;
    }
    // A named hierarchy (name=systemd) has no controller runcell knows: not shown, as above.
    const mountPoint = controllers.split(',').map((c) => layout.v1.get(c)).find((m) => m !== undefined);
    if (mountPoint !== undefined && !isPureV2(layout)) directories.push(path.join(mountPoint, cgroupPath));
  }
  return viewOfDirectories(layout, [...new Set(directories)]);
}

function viewOfDirectories(layout: CgroupLayout, directories: string[]): CgroupView {
  if (isPureV2(layout)) {
    if (directories.length !== 1) throw new ContainerError('ERR_INVALID_STATE', `expected one cgroup2 directory, found ${directories.length}`);
    return { version: 2, directory: directories[0] };
  }
  const mountPoints = [...new Set(layout.v1.values()), ...(layout.unified === null ? [] : [layout.unified])];
  const hierarchies = directories.map((directory) => {
    const mountPoint = mountPoints
      .filter((m) => directory === m || directory.startsWith(m.endsWith('/') ? m : m + '/'))
      .sort((a, b) => b.length - a.length)[0];
    if (mountPoint === undefined) throw new ContainerError('ERR_INVALID_STATE', `cgroup directory "${directory}" is under none of the host's cgroup mounts`);
    return { name: path.basename(mountPoint), directory };
  });
  const names = hierarchies.map((h) => h.name);
  const clash = names.find((name, i) => names.indexOf(name) !== i || name === '' || name === '.' || name === '..');
  if (clash !== undefined) {
    throw new ContainerError('ERR_INVALID_STATE', `the host's cgroup hierarchies cannot be shown by name: "${clash}" names none or more than one (${mountPoints.join(', ')})`);
  }
  return { version: 1, hierarchies };
}
