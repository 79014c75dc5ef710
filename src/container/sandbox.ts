// Sandboxes: pods of containers. The root container's init is the sandbox's process (pid 1 of
// its pid namespace); a subcontainer joins the sandbox's pid, ipc, uts and network namespaces
// and has its own mount namespace, rootfs, cgroup, gofer and state file (named with the sandbox
// id, so listing a sandbox is one glob).
//
// The sandbox lock is its root container's lock. Whatever changes the sandbox as a whole
// (creating or destroying a subcontainer, its OOM score) holds it, then the subcontainer's own:
// always in that order. runsc locks the root only around parts of create and destroy, and
// adjusts the OOM score unlocked (gVisor issue 238).
import { log } from '../log';
import { SpecError } from '../oci/spec';
import { ContainerError } from './errors';
import { validateId } from './id';
import { closeNamespaces, openNamespaces } from './namespaces';
import type { SandboxNamespaces } from './launch-plan';
import { observedStatus, validateRecord, type ContainerRecord } from './record';
import { StateFile } from './state-file';
import { Status } from './status';

// containerd's CRI plugin, then CRI-O's.
const CONTAINER_TYPE = ['io.kubernetes.cri.container-type', 'io.kubernetes.cri-o.ContainerType'];
const SANDBOX_ID = ['io.kubernetes.cri.sandbox-id', 'io.kubernetes.cri-o.SandboxID'];

export interface SandboxMembership {
  sandboxId: string;
  /** The sandbox's root container: its init is the sandbox's process. */
  isRoot: boolean;
  /** The CRI's own root (the pause container), which the OOM-score policy leaves out. */
  isCriSandbox: boolean;
}

/** Which sandbox a container belongs to, from its annotations; none: it is its own. */
export function membershipOf(id: string, annotations: Record<string, string> | undefined): SandboxMembership {
  const typeKey = CONTAINER_TYPE.find((key) => annotations?.[key] !== undefined);
  const type = typeKey === undefined ? undefined : annotations![typeKey];
  if (type === undefined || type === 'sandbox') return { sandboxId: id, isRoot: true, isCriSandbox: type === 'sandbox' };
  if (type !== 'container') {
    throw new SpecError(`config.json: config.annotations.${typeKey}: "${type}" is neither "sandbox" nor "container"`);
  }
  const idKey = SANDBOX_ID.find((key) => annotations?.[key] !== undefined);
  if (idKey === undefined) {
    throw new SpecError(`config.json: config.annotations: "${typeKey}" is "container" but no sandbox is named (${SANDBOX_ID.join(' or ')})`);
  }
  const sandboxId = annotations![idKey];
  try {
    validateId(sandboxId);
  } catch (error) {
    throw new SpecError(`config.json: config.annotations.${idKey}: ${(error as Error).message}`);
  }
  if (sandboxId === id) throw new SpecError(`config.json: config.annotations.${idKey}: a container cannot be its own sandbox's member`);
  return { sandboxId, isRoot: false, isCriSandbox: false };
}

/** The sandbox lock: the root container's state file (not yet locked). */
export function sandboxStateFile(rootDir: string, sandboxId: string): StateFile<ContainerRecord> {
  return new StateFile<ContainerRecord>(rootDir, { containerId: sandboxId, sandboxId });
}

export interface JoinedSandbox {
  /** Holds the sandbox lock until close(). */
  lock: StateFile<ContainerRecord>;
  record: ContainerRecord;
  namespaces: SandboxNamespaces;
  close(): void;
}

/**
 * Takes the sandbox lock for a new subcontainer and opens the sandbox's namespaces. Refused,
 * touching nothing, when the sandbox does not exist or does not run.
 */
export function joinSandbox(rootDir: string, sandboxId: string, containerId: string): JoinedSandbox {
  const lock = sandboxStateFile(rootDir, sandboxId);
  const refuse = (code: 'ERR_CONTAINER_NOT_FOUND' | 'ERR_INVALID_STATE', why: string, cause?: unknown): never => {
    lock.close();
    throw new ContainerError(code, `cannot create container "${containerId}": sandbox "${sandboxId}" ${why}`, { containerId, cause });
  };
  let record: ContainerRecord;
  try {
    lock.lock();
    record = validateRecord(lock.load(), lock.id, lock.statePath);
  } catch (error) {
    if (error instanceof ContainerError && error.code === 'ERR_CONTAINER_NOT_FOUND') {
      const asMember = StateFile.list(rootDir).find((id) => id.containerId === sandboxId);
      refuse('ERR_CONTAINER_NOT_FOUND', asMember === undefined ? 'does not exist'
        : `does not exist ("${sandboxId}" is a member of sandbox "${asMember.sandboxId}")`, error);
    }
    lock.close();
    throw error;
  }
  const status = observedStatus(record);
  if (status !== Status.Running) refuse('ERR_INVALID_STATE', `is not running (it is ${status})`);
  const opened = openNamespaces(record.init!, ['pid', 'ipc', 'uts', 'network']);
  if (opened === null) refuse('ERR_INVALID_STATE', 'is not running (its init is gone)');
  const fd = (type: string) => opened!.find((ns) => ns.type === type)!.fd;
  return {
    lock,
    record,
    namespaces: { pid: fd('pid'), ipc: fd('ipc'), uts: fd('uts'), network: fd('network') },
    close: () => {
      closeNamespaces(opened!);
      lock.close();
    },
  };
}

/**
 * The sandbox lock, taken for a change to an existing member (its start, its removal), and the
 * sandbox's record (null if damaged); null when the sandbox is gone (its removal removed its
 * members: a member left is debris of a crash).
 */
export function lockSandbox(rootDir: string, sandboxId: string): { lock: StateFile<ContainerRecord>; record: ContainerRecord | null } | null {
  const lock = sandboxStateFile(rootDir, sandboxId);
  try {
    lock.lock();
    return { lock, record: validateRecord(lock.load(), lock.id, lock.statePath) };
  } catch (error) {
    if (!(error instanceof ContainerError)) {
      lock.close();
      throw error;
    }
    if (error.code === 'ERR_CONTAINER_NOT_FOUND') {
      lock.close();
      return null;
    }
    log.warn(`sandbox "${sandboxId}": ${error.message}`);
    return { lock, record: null };
  }
}
