// Container: the lifecycle over a StateFile (runsc's runsc/container/container.go).
//
// A Container object is a snapshot read under the lock; every operation that changes the
// container takes the exclusive lock again and re-reads the record before acting, so a status
// checked is never a status someone else has since changed (runsc checks a stale copy).
import { isErrno } from '../sys/errno';
import { processStat, SIGKILL, signalProcess, waitForExit, waitpid, WNOHANG } from '../sys/process';
import { log, logPhase } from '../log';
import { ContainerError } from './errors';
import type { FullId } from './id';
import { listRecords, loadRecord } from './read';
import { observedStatus, ociState, validateRecord, type ContainerRecord, type OciState, type ProcessIdentity } from './record';
import { Cgroup, layoutOf } from './cgroups';
import { signalContainerProcesses } from './process-tree';
import { hooksOf, runHooksWarning } from './hooks';
import { adjustSandboxOOMScore } from './oom-score';
import { lockSandbox } from './sandbox';
import { stopContainerUnit } from './systemd';
import { StateFile, UntrustedFileError } from './state-file';
import { requireStatus, Status } from './status';

/** How long destroy waits for a SIGKILLed process before reporting it (runsc#12091: bound every wait). */
const EXIT_TIMEOUT_MS = 10_000;

export interface DeleteOptions {
  /** Stop whatever still runs, accept damaged state, and treat an unknown id as done. */
  force?: boolean;
}

export interface ListResult {
  containers: Container[];
  /** Containers whose state could not be read; listed by name, never fatal to the listing. */
  damaged: Array<{ id: FullId; error: Error }>;
}

export class Container {
  private constructor(readonly rootDir: string, readonly record: ContainerRecord) {}

  get id(): string {
    return this.record.id;
  }

  get sandboxId(): string {
    return this.record.sandboxId;
  }

  /** The live status: see observedStatus. */
  get status(): Status {
    return observedStatus(this.record);
  }

  /** The OCI state (what `runcell state` prints). */
  state(): OciState {
    return ociState(this.record);
  }

  /**
   * The container whose record this process has just saved under its lock (create's commit,
   * start's): the snapshot a load right after would read, without reading it again.
   */
  static saved(rootDir: string, record: ContainerRecord): Container {
    return new Container(rootDir, record);
  }

  /** Loads a container by id or unique id prefix. */
  static load(rootDir: string, partialId: string): Container {
    return new Container(rootDir, loadRecord(rootDir, partialId));
  }

  /**
   * Every container of the root directory, sorted by id; damaged ones are reported apart. A
   * snapshot: each state is read without its lock (see StateFile.peek).
   */
  static list(rootDir: string): ListResult {
    const { records, damaged } = listRecords(rootDir);
    return { containers: records.map((record) => new Container(rootDir, record)), damaged };
  }

  /**
   * Deletes a container. Without force, only a created or stopped one (runc kills a created
   * container's init). With force, any: what still runs is killed, a damaged state file is
   * removed, and an id that does not exist is not an error (podman and containerd's shim send
   * `delete --force` after every failure and rely on that).
   *
   * Deleting a sandbox's root deletes the sandbox: every member is stopped and removed first.
   * Deleting a subcontainer leaves the others running, and re-scores the sandbox's process.
   */
  static async delete(rootDir: string, partialId: string, options: DeleteOptions = {}): Promise<void> {
    const force = options.force === true;
    let id: FullId;
    try {
      id = StateFile.resolve(rootDir, partialId);
    } catch (error) {
      if (force && error instanceof ContainerError && error.code === 'ERR_CONTAINER_NOT_FOUND') {
        // No container, but perhaps the debris of a create killed before its first save.
        StateFile.removeLeftovers(rootDir, partialId);
        return;
      }
      throw error;
    }
    const isRoot = id.sandboxId === id.containerId;
    // A subcontainer's removal changes its sandbox: the sandbox's lock first, then its own.
    const sandbox = isRoot ? null : lockSandbox(rootDir, id.sandboxId);
    try {
      const removed = await removeContainer(rootDir, id, force, isRoot ? () => removeMembers(rootDir, id.sandboxId) : undefined);
      if (removed === undefined) return;
      let oomError: unknown;
      try {
        if (sandbox?.record) adjustSandboxOOMScore(rootDir, sandbox.record, true);
      } catch (error) {
        oomError = error; // reported once the container is fully gone
      }
      // "The poststop hooks MUST be called after the container is deleted but before the
      // delete operation returns"; a failing one only warns.
      if (removed !== null) await runHooksWarning('poststop', hooksOf(removed.hooks, 'poststop'), ociState(removed, Status.Stopped));
      if (oomError !== undefined) throw oomError;
    } finally {
      sandbox?.lock.close();
    }
  }
}

/**
 * Stops and removes one container under its lock. Returns its record, null when its state was
 * damaged (removed anyway: force), undefined when it was gone already (force). `beforeStop`
 * runs once the deletion is decided, before the container's own processes are stopped.
 */
async function removeContainer(rootDir: string, id: FullId, force: boolean,
  beforeStop?: () => Promise<void>): Promise<ContainerRecord | null | undefined> {
  const stateFile = new StateFile<unknown>(rootDir, id);
  try {
    try {
      stateFile.lock();
    } catch (error) {
      if (force && error instanceof ContainerError && error.code === 'ERR_CONTAINER_NOT_FOUND') return undefined;
      throw error;
    }
    let record: ContainerRecord | null;
    try {
      record = validateRecord(stateFile.load(), id, stateFile.statePath);
    } catch (error) {
      if (error instanceof ContainerError && error.code === 'ERR_CONTAINER_NOT_FOUND') {
        if (force) return undefined;
        throw error;
      }
      if (!(force && error instanceof ContainerError && error.code === 'ERR_STATE_CORRUPT')) throw error;
      log.warn(`${error.message}; removing the container's files anyway`);
      record = null;
    }
    if (record !== null && !force) requireStatus('delete', record.id, observedStatus(record), Status.Created, Status.Stopped);
    await beforeStop?.();
    logPhase('delete: record locked and read');
    await destroyProcesses(record ?? recordedProcesses(stateFile), id.containerId);
    stateFile.destroy();
    logPhase('delete: files removed');
    return record;
  } finally {
    stateFile.close();
  }
}

// Every member of a sandbox but its root, stopped and removed (runsc: the root container's
// destroy takes the sandbox down). The caller holds the root's lock, the sandbox's.
async function removeMembers(rootDir: string, sandboxId: string): Promise<void> {
  for (const member of StateFile.listSandbox(rootDir, sandboxId)) {
    if (member.containerId === sandboxId) continue;
    const removed = await removeContainer(rootDir, member, true);
    if (removed) await runHooksWarning('poststop', hooksOf(removed.hooks, 'poststop'), ociState(removed, Status.Stopped));
  }
}


type Remains = Pick<ContainerRecord, 'init' | 'gofer' | 'user' | 'cgroupPath' | 'cgroupLayout' | 'systemdUnit' | 'systemdInstance'>;

// Destroy's order: the recorded processes (the gofer is outside the cgroup), then every process
// left in the cgroup (exec'd and forked ones too), the systemd unit if the cgroup is one, then
// the cgroup; the caller removes the files. The init first: when it is its pid namespace's
// init, its exit kills every process of the namespace and completes only once they are gone
// (the kernel's zap_pid_ns_processes; runc kills only the init then), so the cgroup is found
// empty and needs no freeze, kill and thaw (~0.5 ms on cgroup v1). Without one of its own, what
// the init's death leaves in the cgroup is frozen and killed there as before. A frozen (paused)
// cgroup is killed and thawed first: a v1 task frozen there acts on no SIGKILL before its thaw.
async function destroyProcesses(remains: Remains, containerId: string): Promise<void> {
  const cgroup = remains.cgroupPath === undefined ? undefined : new Cgroup(layoutOf(remains.cgroupLayout), remains.cgroupPath);
  // No cgroup (rootless): what /proc shows of the container goes first, exec'd processes too.
  if (cgroup === undefined) signalContainerProcesses(remains.init, remains.user ?? null, SIGKILL);
  if (cgroup !== undefined && isFrozen(cgroup)) await cgroup.signalAll(SIGKILL);
  await stopProcesses(remains, containerId);
  await cgroup?.signalAll(SIGKILL);
  logPhase('delete: processes gone');
  // Its processes gone, a scope goes by itself; stopping it is for a slice, and resets a failed
  // unit. systemd out of reach is no reason to keep a dead container: warn and go on.
  if (remains.systemdUnit !== undefined) {
    await stopContainerUnit(remains.systemdUnit, remains.systemdInstance)
      .catch((e) => log.warn(`stopping the systemd unit of container "${containerId}": ${(e as Error).message}`));
  }
  await cgroup?.remove();
}

// Whether the cgroup is frozen now; a cgroup gone already, or without a freezer, is not.
function isFrozen(cgroup: Cgroup): boolean {
  if (!cgroup.canFreeze) return false;
  try {
    return cgroup.isFrozen();
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

/** The `.pids` side file: what create recorded beside the state (lifecycle.ts, writeProcessIds). */
export type RecordedProcesses = Pick<ContainerRecord, 'init' | 'gofer' | 'cgroupPath' | 'systemdUnit' | 'systemdInstance'>;

// What a damaged state file can no longer tell, from the side file. It is believed only if it
// is ours alone to write (StateFile.readSideFile) and has the shape create gives it: `delete
// --force` kills what it names (each process only while its start time still matches, so a
// reused pid is left alone) and every process of the cgroup it names, so a file someone else
// could write, or one we cannot read as ours, is ignored with a warning and nothing is killed.
function recordedProcesses(stateFile: StateFile<unknown>): Remains {
  const nothing: Remains = { init: null, gofer: null, user: null };
  let text: string | null;
  try {
    text = stateFile.readSideFile('pids');
  } catch (error) {
    if (!(error instanceof UntrustedFileError)) throw error;
    log.warn(`ignoring '${error.path}': ${error.message}`);
    return nothing;
  }
  if (text === null) return nothing;
  const ids = parseRecordedProcesses(text);
  if (ids === null) {
    log.warn(`ignoring '${stateFile.pathOf('pids')}': it is not what create writes there`);
    return nothing;
  }
  return { ...ids, user: null };
}

function parseRecordedProcesses(text: string): RecordedProcesses | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const ids = value as Record<string, unknown>;
  const identity = (proc: unknown): ProcessIdentity | null | undefined => {
    if (proc === null || proc === undefined) return null;
    const p = proc as Partial<ProcessIdentity>;
    return typeof proc === 'object' && Number.isInteger(p.pid) && p.pid! > 0 && Number.isInteger(p.startTime) && p.startTime! >= 0
      ? { pid: p.pid!, startTime: p.startTime! } : undefined;
  };
  const init = identity(ids.init);
  const gofer = identity(ids.gofer);
  const optionalString = (field: unknown, valid: (s: string) => boolean) => field === undefined || (typeof field === 'string' && valid(field));
  if (init === undefined || gofer === undefined) return null;
  if (!optionalString(ids.cgroupPath, (p) => p.startsWith('/')) || !optionalString(ids.systemdUnit, (u) => u !== '')
    || !optionalString(ids.systemdInstance, (i) => i === 'user')) return null;
  return {
    init, gofer, cgroupPath: ids.cgroupPath as string | undefined, systemdUnit: ids.systemdUnit as string | undefined,
    systemdInstance: ids.systemdInstance as 'user' | undefined,
  };
}

/** The user name of the calling process, or #uid when it has none (as runc reports owners). */
export function currentOwner(): string {
  try {
    // Loaded here: only create names an owner, and node:os costs every command ~0.2 ms to load.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('node:os') as typeof import('node:os')).userInfo().username;
  } catch {
    return `#${process.getuid?.() ?? 0}`;
  }
}

/**
 * Kills the recorded processes that are still the ones we recorded, and waits until they are
 * gone. Never signals a pid that now belongs to someone else (runsc does, bug 5 of runsc.md).
 */
export async function stopProcesses(record: Pick<ContainerRecord, 'init' | 'gofer' | 'user'>, containerId: string): Promise<void> {
  const killed: ProcessIdentity[] = [];
  for (const proc of [record.init, record.user ?? null, record.gofer]) {
    if (proc === null) continue;
    if (signalProcess(proc.pid, proc.startTime, SIGKILL)) killed.push(proc);
    else reapIfOurChild(proc); // exited already: a library's init (its child) is left a zombie until reaped
  }
  // Signalled in that order, then awaited together: each exit (the init's takes its
  // namespaces down with it) overlaps the others'.
  await Promise.all(killed.map((proc) => waitUntilGone(proc, containerId)));
}

async function waitUntilGone(proc: ProcessIdentity, containerId: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(
      `process ${proc.pid} of container "${containerId}" did not exit within ${EXIT_TIMEOUT_MS / 1000} s of SIGKILL`)),
    EXIT_TIMEOUT_MS);
  });
  try {
    await Promise.race([waitForExit(proc.pid).catch((error) => {
      if (!isErrno(error, 'ESRCH')) throw error; // already gone and reaped
    }), timeout]);
  } finally {
    clearTimeout(timer);
  }
  reapIfOurChild(proc);
}

// A process we started (`run` in the foreground, any container's init in a library: the gofer
// clones it with CLONE_PARENT) is our child: reap it rather than leave a zombie behind. Only
// while it is still the process recorded (a zombie keeps its pid, so the start time decides).
function reapIfOurChild(proc: ProcessIdentity): void {
  try {
    const stat = processStat(proc.pid);
    if (stat.ppid === process.pid && stat.startTime === proc.startTime) waitpid(proc.pid, WNOHANG);
  } catch (error) {
    if (!isErrno(error, 'ENOENT', 'ESRCH', 'ECHILD')) throw error;
  }
}
