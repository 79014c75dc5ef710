// A recorded process's namespaces, opened as descriptors. A path like /proc/PID/ns/net names
// whatever process has that pid when it is opened; a descriptor opened while PID is still the
// process we recorded (same start time, checked after the open) names its namespace for good.
import * as fs from 'node:fs';
import { isErrno } from '../sys/errno';
import { isProcessAlive } from '../sys/process';
import type { NamespaceType } from './launch-plan';
import type { ProcessIdentity } from './record';

const NS_FILE: Record<NamespaceType, string> = {
  pid: 'pid', network: 'net', ipc: 'ipc', uts: 'uts', mount: 'mnt', user: 'user', cgroup: 'cgroup', time: 'time',
};

export interface OpenNamespace {
  type: NamespaceType;
  fd: number;
}

/**
 * Opens the namespaces of `types` of the process, in that order, or returns null when the
 * process is gone (or its pid is now another's). With `skipOwn`, namespaces this process is
 * already in are left out (entering one's own user namespace is EINVAL).
 */
export function openNamespaces(proc: ProcessIdentity, types: readonly NamespaceType[], options: { skipOwn?: boolean } = {}): OpenNamespace[] | null {
  const opened: OpenNamespace[] = [];
  try {
    for (const type of types) {
      const fd = fs.openSync(`/proc/${proc.pid}/ns/${NS_FILE[type]}`, fs.constants.O_RDONLY);
      opened.push({ type, fd });
      if (options.skipOwn && sameNamespace(fd, type)) {
        fs.closeSync(fd);
        opened.pop();
      }
    }
  } catch (error) {
    closeNamespaces(opened);
    if (isErrno(error, 'ENOENT', 'ESRCH')) return null;
    throw error;
  }
  if (!isProcessAlive(proc.pid, proc.startTime)) {
    closeNamespaces(opened);
    return null;
  }
  return opened;
}

export function closeNamespaces(namespaces: readonly OpenNamespace[]): void {
  for (const ns of namespaces) fs.closeSync(ns.fd);
}

/** Whether the namespace `fd` is this process's own of that type. */
export function sameNamespace(fd: number, type: NamespaceType): boolean {
  const theirs = fs.fstatSync(fd);
  const ours = fs.statSync(`/proc/self/ns/${NS_FILE[type]}`);
  return theirs.ino === ours.ino && theirs.dev === ours.dev;
}
