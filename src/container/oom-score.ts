// The OOM-score policy of runsc (the seed's adjustGoferOOMScoreAdj and adjustSandboxOOMScoreAdj).
// When memory runs out the kernel kills the process with the highest score; the sandbox's
// process (its root init) takes the whole sandbox down with it, so it must be no likelier a
// victim than the container that is least to be killed: it gets the lowest
// process.oomScoreAdj among the sandbox's containers.
import * as fs from 'node:fs';
import { isErrno } from '../sys/errno';
import { isProcessAlive } from '../sys/process';
import { setOOMScoreAdj } from '../sys/oom';
import { log } from '../log';
import { ContainerError } from './errors';
import { stepFailure } from './step-failure';
import { validateRecord, type ContainerRecord, type ProcessIdentity } from './record';
import { membershipOf } from './sandbox';
import { StateFile } from './state-file';

export interface ScoredMember {
  oomScoreAdj?: number;
  /** The CRI's pause container: always scored very low, so it is left out. */
  isCriSandbox: boolean;
}

/**
 * The score the sandbox's process should have: the lowest of its containers' (the CRI pause
 * container left out). When none has one: after a container went away, the score the sandbox
 * started with; otherwise undefined (leave it as it is, inherited from its creator).
 */
export function sandboxOOMScore(members: readonly ScoredMember[], original: number | undefined, afterDestroy: boolean): number | undefined {
  const scores = members.filter((m) => !m.isCriSandbox && m.oomScoreAdj !== undefined).map((m) => m.oomScoreAdj!);
  if (scores.length > 0) return Math.min(...scores);
  return afterDestroy ? original : undefined;
}

/**
 * Sets the sandbox process's score by the policy, after a container of the sandbox started or
 * was destroyed. Precondition: the caller holds the sandbox lock (the root's), so no member
 * comes or goes meanwhile. A sandbox whose process is gone needs nothing. `members` defaults
 * to every container of the sandbox, read from the root directory.
 */
export function adjustSandboxOOMScore(rootDir: string, sandbox: ContainerRecord, afterDestroy: boolean,
  members?: readonly ScoredMember[]): void {
  const init = sandbox.init;
  if (init === null) return;
  // Members given (a root's start), the score costs nothing: when none asks for one (the usual
  // spec), the sandbox's process is not even looked at (a read of its /proc stat per start).
  if (members !== undefined && sandboxOOMScore(members, sandbox.originalOOMScoreAdj, afterDestroy) === undefined) return;
  if (!isProcessAlive(init.pid, init.startTime)) return;
  const score = sandboxOOMScore(members ?? scoredMembers(rootDir, sandbox.id), sandbox.originalOOMScoreAdj, afterDestroy);
  if (score === undefined) return;
  let current: number;
  try {
    current = readOOMScore(init.pid);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ESRCH')) return; // gone meanwhile
    throw error;
  }
  if (current === score) return;
  // Rootless, the init is not dumpable, so its /proc files are the host root's: not even a
  // raise is ours to write. It kept the user's own score, and a member may not ask for less
  // (refused at create), so the policy's aim holds already: it is no likelier a victim than
  // any member.
  if (process.geteuid!() !== 0 && current <= score) {
    log.debug(`OOM score of sandbox "${sandbox.id}": left at ${current}, the user's own (rootless: not below ${score})`);
    return;
  }
  setScore(init, score, `set the oom_score_adj of sandbox "${sandbox.id}" (pid ${init.pid}) to ${score}`, sandbox.id);
}

/** A container as the policy sees it. */
export function scoredMember(record: ContainerRecord): ScoredMember {
  return { oomScoreAdj: record.oomScoreAdj, isCriSandbox: membershipOf(record.id, record.annotations).isCriSandbox };
}

function scoredMembers(rootDir: string, sandboxId: string): ScoredMember[] {
  const members: ScoredMember[] = [];
  for (const id of StateFile.listSandbox(rootDir, sandboxId)) {
    const stateFile = new StateFile<unknown>(rootDir, id);
    try {
      // Lock-free: member records change only their status while we hold the sandbox lock.
      members.push(scoredMember(validateRecord(stateFile.peek(), id, stateFile.statePath)));
    } catch (error) {
      if (!(error instanceof ContainerError)) throw error;
      log.debug(`OOM score of sandbox "${sandboxId}": skipping container "${id.containerId}": ${error.message}`);
    } finally {
      stateFile.close();
    }
  }
  return members;
}

/** The gofer gets its container's process.oomScoreAdj. */
export function adjustGoferOOMScore(record: ContainerRecord): void {
  if (record.gofer === null || record.oomScoreAdj === undefined) return;
  setScore(record.gofer, record.oomScoreAdj, `set the oom_score_adj of the gofer of container "${record.id}" to ${record.oomScoreAdj}`, record.id);
}

/** A process's score now (what a sandbox started with). */
export function readOOMScore(pid: number): number {
  return Number(fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8'));
}

// A process already gone is not an error (setOOMScoreAdj says false); anything else, EACCES
// above all (lowering a score needs CAP_SYS_RESOURCE), is reported as it is.
function setScore(proc: ProcessIdentity, score: number, what: string, containerId: string): void {
  if (!isProcessAlive(proc.pid, proc.startTime)) return;
  try {
    if (!setOOMScoreAdj(proc.pid, score)) log.debug(`${what}: the process is gone`);
  } catch (error) {
    if (!isErrno(error)) throw error;
    const hint = isErrno(error, 'EACCES') ? ' (lowering a score needs CAP_SYS_RESOURCE)' : '';
    throw new ContainerError('ERR_OOM_SCORE', `${stepFailure(what, -error.errno)}${hint}`, { containerId, cause: error });
  }
}
