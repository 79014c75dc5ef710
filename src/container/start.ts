// start: opening a created container's start gate. Apart from lifecycle.ts so that `start`
// loads only what it uses (the state file, the gate, hooks, the OOM score), not create's launch
// plan, rootfs, seccomp compiler, cgroup-making and gofer-spawning modules (start-up, issue 13).
import * as fs from 'node:fs';
import { isErrno } from '../sys/errno';
import { processStartTime } from '../sys/process';
import type { Spec } from '../oci/spec';
import { logPhase } from '../log';
import { withLockedRecord } from './control';
import { ContainerError } from './errors';
import { hooksOf, NATIVE_HOOK_STATE_LIMIT, nativeHookState, runHooksWarning } from './hooks';
import { adjustSandboxOOMScore, scoredMember } from './oom-score';
import { observedStatus, ociState, type ContainerRecord, type ProcessIdentity } from './record';
import { lockSandbox } from './sandbox';
import { containerProcessState, listenerOf, type SeccompProfile } from './seccomp';
import { openStartGate } from './start-gate';
import type { StateFile } from './state-file';
import { requireStatus, Status, transition } from './status';
import { stepFailure } from './step-failure';

/** A process as recorded: its pid and its start time (a pid alone may be reused). */
export function identityOf(pid: number): ProcessIdentity {
  return { pid, startTime: processStartTime(pid) };
}

/**
 * Opens the start gate: the init starts the user's process. Then the sandbox's OOM score is
 * adjusted to its members' (under the sandbox lock, which for a subcontainer is taken only
 * once its own is released: the sandbox's lock always comes first).
 */
export async function startContainer(rootDir: string, partialId: string): Promise<void> {
  await startRecorded(rootDir, partialId);
}

/** startContainer, which answers the container's record as it saved it (run keeps it). */
export async function startRecorded(rootDir: string, partialId: string): Promise<ContainerRecord> {
  const started = await withLockedRecord(rootDir, partialId, async (record, stateFile) => {
    requireStatus('start', record.id, observedStatus(record), Status.Created);
    // The gate's line carries the state the startContainer hooks get, if there are any (the
    // native side takes 64 KiB, which large annotations, Kubernetes' whole objects, exceed).
    let hookState = '';
    let processState: string | undefined;
    try {
      if (hooksOf(record.hooks, 'startContainer').length > 0) {
        hookState = nativeHookState('startContainer', { ...ociState(record, Status.Created), pid: record.init!.pid });
      }
      processState = seccompProcessState(record, stateFile);
    } catch (error) {
      throw new ContainerError('ERR_START_FAILED', `cannot start container "${record.id}": ${(error as Error).message}`, { containerId: record.id, cause: error });
    }
    logPhase('start: record locked and read');
    const reply = await openStartGate(stateFile.pathOf('gate'), stateFile.pathOf('ready'), hookState, (error) =>
      new ContainerError('ERR_INVALID_STATE', `cannot start container "${record.id}": container not running (its gofer is gone)`,
        { containerId: record.id, cause: error }), processState);
    if (reply?.type !== 'started') {
      record.status = transition(record.status, Status.Stopped);
      stateFile.saveLocked(record);
      const why = reply?.type === 'error'
        ? stepFailure(record.startSteps?.[reply.step], reply.errno)
        : reply === undefined ? 'its gofer exited without a report' : `its gofer sent "${reply.type}" where "started" was due`;
      throw new ContainerError('ERR_START_FAILED', `cannot start container "${record.id}": ${why}`, { containerId: record.id });
    }
    logPhase('start: the gofer answered');
    record.user = userProcess(record.init!);
    record.status = transition(record.status, Status.Running);
    stateFile.saveLocked(record);
    // A root's lock is its sandbox's, and at its start it is the only member (a member needs a
    // running sandbox): no need to read the root directory.
    if (record.sandboxId === record.id) adjustSandboxOOMScore(rootDir, record, false, [scoredMember(record)]);
    await runHooksWarning('poststart', hooksOf(record.hooks, 'poststart'), ociState(record, Status.Running));
    return record;
  });
  if (started.sandboxId !== started.id) {
    const sandbox = lockSandbox(rootDir, started.sandboxId); // null: gone, no score to adjust
    try {
      if (sandbox?.record) adjustSandboxOOMScore(rootDir, sandbox.record, false);
    } finally {
      sandbox?.lock.close();
    }
  }
  return started;
}

/**
 * For an SCMP_ACT_NOTIFY profile: what goes to the seccomp agent with the listener, which the
 * process loads after the gate (runtime.md "containerProcessState"): its own pid, and the
 * container's state.
 */
function seccompProcessState(record: ContainerRecord, stateFile: StateFile<ContainerRecord>): string | undefined {
  // Through readSideFile, as exec reads it: a symlink or a file someone else may write in the
  // root is refused, not followed.
  const stored = stateFile.readSideFile('spec');
  if (stored === null) return undefined;
  const spec = JSON.parse(stored) as Spec;
  const listener = listenerOf(spec.linux?.seccomp as SeccompProfile | undefined);
  if (listener === undefined) return undefined;
  const user = userProcess(record.init!);
  if (user === null) throw new Error('its process is gone');
  const { before, after } = containerProcessState({ ...ociState(record, Status.Created), pid: record.init!.pid }, listener);
  const text = `${before}${user.pid}${after}`;
  const size = Buffer.byteLength(text);
  if (size > NATIVE_HOOK_STATE_LIMIT) {
    throw new Error(`the state for the seccomp agent is ${size} bytes, more than the ${NATIVE_HOOK_STATE_LIMIT} runcell passes into a container (large annotations?)`);
  }
  return text;
}

// The user's process is the init's only child: /proc/PID/task/PID/children names it by its
// host pid whatever namespace it lives in.
function userProcess(init: ProcessIdentity): ProcessIdentity | null {
  try {
    const children = fs.readFileSync(`/proc/${init.pid}/task/${init.pid}/children`, 'utf8').trim().split(/\s+/);
    return children[0] ? identityOf(Number(children[0])) : null;
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ESRCH')) return null;
    throw error;
  }
}
