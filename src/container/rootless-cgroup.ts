// A rootless container's cgroup on cgroup v2: where it goes, and which of its limits can hold.
// systemd delegates a subtree to each user's own instance (user@UID.service, with the
// controllers of its Delegate=, "pids memory cpu" on Debian 12); the user's processes started
// by that instance live in it, and may make cgroups there. runc (fs2) and crun make a rootless
// container's cgroup next to the caller's own; a limit whose controller the user was not given
// cannot hold, and is refused by name rather than dropped.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SpecError } from '../oci/spec';
import { controllerStop, v2ControllersByField, type LinuxResources } from './cgroups';
import { ContainerError } from './errors';

/**
 * A rootless container's cgroup on cgroup v2 without --systemd-cgroup, relative to the root of
 * the hierarchy: an absolute linux.cgroupsPath as it is; a relative one, or the default
 * `runcell-<id>`, in the parent of the caller's own cgroup (from /proc/self/cgroup's "0::" line),
 * as runc's fs2 places a relative path. Under the user's systemd instance the caller is in a
 * unit of user@UID.service (`app.slice/run-u7.scope`, say), and its parent is a slice the user
 * owns.
 */
export function delegatedCgroupPath(given: string | undefined, id: string, procSelfCgroup: string): string {
  if (given !== undefined && given.startsWith('/')) return given;
  if (given !== undefined && given.split('/').includes('..')) {
    throw new SpecError(`config.json: config.linux.cgroupsPath: "${given}" must not contain ".."`);
  }
  const own = /^0::(\/.*)$/m.exec(procSelfCgroup)?.[1];
  if (own === undefined) throw new ContainerError('ERR_INVALID_STATE', 'this process is in no cgroup v2 cgroup (/proc/self/cgroup has no "0::" line)');
  return path.posix.join(path.posix.dirname(own), given === undefined || given === '' ? `runcell-${id}` : given);
}

/**
 * Refuses, naming the field (under `where`: the config's, or update's) and the controller, a limit
 * whose controller does not reach the cgroup `cgroupPath` for this user (see controllerStop): the
 * kernel would have no file for it, or refuse the write, and the limit would not hold.
 */
export function requireDelegated(resources: LinuxResources, unified: string, cgroupPath: string, where = 'config.linux.resources'): void {
  for (const { field, controller } of v2ControllersByField(resources)) {
    const stop = controllerStop(unified, cgroupPath, controller);
    if (stop === null) continue;
    const read = (file: string) => {
      try {
        return fs.readFileSync(path.join(stop, file), 'utf8').trim() || 'none';
      } catch {
        return 'unreadable';
      }
    };
    throw new SpecError(`${where}.${field}: the ${controller} cgroup controller is not delegated to uid ${process.geteuid?.()}: ` +
      `${stop} does not pass it on (cgroup.subtree_control: ${read('cgroup.subtree_control')}; cgroup.controllers: ${read('cgroup.controllers')}) ` +
      'and is not this user\'s to change; remove the limit, or have it delegated (systemd: Delegate= of user@.service)');
  }
}

/**
 * Refuses to move this process into the cgroup `cgroupPath` when the kernel would: cgroup v2
 * lets a process be moved only by one that may write cgroup.procs of the common ancestor of
 * the source and destination cgroups (cgroup_procs_write_permission). A user's login session
 * (session-N.scope of user-UID.slice, root's) and its systemd instance's subtree have
 * /user.slice/user-UID.slice as common ancestor, which is root's: `what` fails there, and is
 * refused saying so instead of a bare EACCES.
 */
export function requireJoinable(unified: string, cgroupPath: string, procSelfCgroup: string, what: string): void {
  const own = /^0::(\/.*)$/m.exec(procSelfCgroup)?.[1];
  if (own === undefined) return; // not in the cgroup2 hierarchy: the kernel says
  const a = own.split('/').filter(Boolean);
  const b = cgroupPath.split('/').filter(Boolean);
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) common++;
  const ancestor = path.join(unified, ...a.slice(0, common));
  const procs = path.join(ancestor, 'cgroup.procs');
  try {
    fs.accessSync(procs, fs.constants.W_OK);
  } catch {
    throw new ContainerError('ERR_INVALID_STATE', `${what}: rootless, this process (in cgroup "${own}") may not move into the ` +
      `container's cgroup "${cgroupPath}": the kernel asks for write access to ${procs}, the common ancestor's, and uid ` +
      `${process.geteuid?.()} has none; run it from the user's own systemd instance (e.g. \`systemd-run --user --scope\`)`);
  }
}
