// Acting on a container that exists: signal it, freeze or thaw it, list its processes. Apart
// from lifecycle.ts (which re-exports these) so that kill, pause, resume and ps load only this,
// the state file and the cgroup: the CLI bundles these verbs on their own (start-up, issue 13).
import { logPhase } from '../log';
import { Cgroup, layoutOf } from './cgroups';
import { ContainerError } from './errors';
import { loadRecord } from './read';
import { observedStatus, validateRecord, type ContainerRecord } from './record';
import { StateFile } from './state-file';
import { requireStatus, Status, transition } from './status';
import { signalProcess } from '../sys/process';
import { containerProcesses, signalContainerProcesses } from './process-tree';

/**
 * Runs `action` on a container's record under its exclusive lock: resolved from a prefix,
 * loaded, validated; the lock is released however `action` ends.
 */
export async function withLockedRecord<T>(rootDir: string, partialId: string,
  action: (record: ContainerRecord, stateFile: StateFile<ContainerRecord>) => T | Promise<T>): Promise<T> {
  const id = StateFile.resolve(rootDir, partialId);
  const stateFile = new StateFile<ContainerRecord>(rootDir, id);
  try {
    stateFile.lock();
    return await action(validateRecord(stateFile.load(), id, stateFile.statePath), stateFile);
  } finally {
    stateFile.close();
  }
}

export interface KillOptions {
  /** Every process of the container, not only its main one. */
  all?: boolean;
}

/**
 * Signals the container's process (its init while it is only created, as runc does). With
 * `all`, every process of the container; that succeeds even when the main process is gone.
 */
export async function killContainer(rootDir: string, partialId: string, signal: number | string, options: KillOptions = {}): Promise<void> {
  const record = loadRecord(rootDir, partialId);
  const status = observedStatus(record);
  if (options.all) {
    if (record.cgroupPath !== undefined) return cgroupOf(record, 'signal').signalAll(signal);
    // No cgroup (rootless): what /proc shows of the container, without a freezer to hold it.
    signalContainerProcesses(record.init, record.user ?? null, signal);
    return;
  }
  if (status === Status.Stopped || status === Status.Creating) {
    throw new ContainerError('ERR_INVALID_STATE', `cannot kill container "${record.id}": container not running`, { containerId: record.id });
  }
  const target = status === Status.Created ? record.init : record.user ?? record.init;
  if (target === null || !signalProcess(target.pid, target.startTime, signal)) {
    throw new ContainerError('ERR_INVALID_STATE', `cannot kill container "${record.id}": container not running`, { containerId: record.id });
  }
}

/** Freezes (pause) or thaws (resume) every process of the container. */
export function pauseContainer(rootDir: string, partialId: string, pause: boolean): Promise<void> {
  return withLockedRecord(rootDir, partialId, async (record, stateFile) => {
    const verb = pause ? 'pause' : 'resume';
    requireStatus(verb, record.id, observedStatus(record), pause ? Status.Running : Status.Paused);
    logPhase(`${verb}: record locked and read`);
    const cgroup = cgroupOf(record, 'freeze');
    logPhase(`${verb}: cgroups found`);
    await cgroup.setFrozen(pause);
    logPhase(`${verb}: ${pause ? 'frozen' : 'thawed'}`);
    record.status = transition(record.status, pause ? Status.Paused : Status.Running);
    stateFile.saveLocked(record);
    logPhase(`${verb}: record saved`);
  });
}

/** The container's cgroup, for `purpose` (an error names it when there is none). */
export function cgroupOf(record: ContainerRecord, purpose: string): Cgroup {
  if (record.cgroupPath === undefined) {
    // Rootless without a cgroup it may write (see rootlessCgroup): nothing to freeze or limit.
    throw new ContainerError('ERR_INVALID_STATE', `container "${record.id}" has no cgroup to ${purpose} (it was created rootless, ` +
      'where no cgroup could be made for it)', { containerId: record.id });
  }
  return new Cgroup(layoutOf(record.cgroupLayout), record.cgroupPath);
}

/** The host pids of every process of the container. */
export function containerPids(rootDir: string, partialId: string): number[] {
  const record = loadRecord(rootDir, partialId);
  logPhase('ps: record read');
  if (record.cgroupPath === undefined) return containerProcesses(record.init, record.user ?? null);
  const cgroup = cgroupOf(record, 'list processes of');
  logPhase('ps: cgroups found');
  const pids = cgroup.pids();
  logPhase('ps: pids read');
  return pids;
}
