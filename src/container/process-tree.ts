// The processes of a container that has no cgroup (rootless, where none could be made), found
// in /proc: with a pid namespace of its own, every process in that namespace (exec'd ones
// too, whose parent is not the init); otherwise the init and its descendants. A cgroup would
// answer without a race; this cannot stop a process that forks meanwhile (kill --all signals
// what it found), which is why a container with a cgroup never uses it.
import * as fs from 'node:fs';
import { isErrno } from '../sys/errno';
import { isProcessAlive, kill } from '../sys/process';
import type { ProcessIdentity } from './record';

/**
 * The host pids of the container whose init is `init` and user's process `user` (none once the
 * init is gone). The init lives in the container's (or its sandbox's) pid namespace, the user's
 * process in a nested one when the spec asks for its own: both are the container's.
 */
export function containerProcesses(init: ProcessIdentity | null, user: ProcessIdentity | null = null): number[] {
  if (init === null || !isProcessAlive(init.pid, init.startTime)) return [];
  // The init is not dumpable, so its namespaces are not ours to read (EACCES): the user's
  // process's, where exec'd processes go too, are.
  const ours = pidNamespaceOf(process.pid);
  const namespaces = new Set([init, user].flatMap((p) => {
    const namespace = p !== null && isProcessAlive(p.pid, p.startTime) ? pidNamespaceOf(p.pid) : null;
    return namespace !== null && namespace !== ours ? [namespace] : [];
  }));
  const found = descendants(init.pid);
  if (namespaces.size > 0) {
    for (const pid of allPids()) if (!found.includes(pid) && namespaces.has(pidNamespaceOf(pid) ?? '')) found.push(pid);
  }
  // Checked again: the init's pid may have been reused while /proc was read.
  return isProcessAlive(init.pid, init.startTime) ? found : [];
}

/** Signals what containerProcesses finds (one gone meanwhile is no error). */
export function signalContainerProcesses(init: ProcessIdentity | null, user: ProcessIdentity | null, signal: number | string): void {
  for (const pid of containerProcesses(init, user)) {
    try {
      kill(pid, signal);
    } catch (error) {
      if (!isErrno(error, 'ESRCH')) throw error;
    }
  }
}

function allPids(): number[] {
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
}

// null: gone, or not ours to look at (another user's process: EACCES).
function pidNamespaceOf(pid: number): string | null {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/pid`);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ESRCH', 'EACCES', 'EPERM')) return null;
    throw error;
  }
}

// `pid` and its descendants, through every thread's children file.
function descendants(pid: number): number[] {
  const found = [pid];
  for (let i = 0; i < found.length; i++) {
    let tasks: string[];
    try {
      tasks = fs.readdirSync(`/proc/${found[i]}/task`);
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ESRCH')) continue;
      throw error;
    }
    for (const task of tasks) {
      try {
        const children = fs.readFileSync(`/proc/${found[i]}/task/${task}/children`, 'utf8').trim();
        for (const child of children === '' ? [] : children.split(/\s+/)) if (!found.includes(Number(child))) found.push(Number(child));
      } catch (error) {
        if (!isErrno(error, 'ENOENT', 'ESRCH')) throw error;
      }
    }
  }
  return found;
}
