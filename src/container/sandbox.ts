// Sandboxes: pods of containers. The root container's init is the sandbox's process (pid 1 of
// its pid namespace); a subcontainer joins the sandbox's pid, ipc, uts and network namespaces
// and has its own mount namespace, rootfs, cgroup, gofer and state file (named with the sandbox
// id, so listing a sandbox is one glob).
//
// The sandbox lock is its root container's lock. Whatever changes the sandbox as a whole
// (creating or destroying a subcontainer, its OOM score) holds it, then the subcontainer's own:
// always in that order. runsc locks the root only around parts of create and destroy, and
// adjusts the OOM score unlocked (gVisor issue 238).
import * as fs from 'node:fs';
import { log } from '../log';
import { SpecError, validateSpec, type Spec } from '../oci/spec';
import { isErrno } from '../sys/errno';
import { native } from '../sys/native';
import { ContainerError } from './errors';
import { validateId } from './id';
import { closeNamespaces, openNamespaces, sameNamespace, type OpenNamespace } from './namespaces';
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
 * touching nothing, when the sandbox does not exist or does not run. `rootless`: the caller is
 * not root, and `spec` is the subcontainer's (see openRootlessSandbox).
 */
export function joinSandbox(rootDir: string, sandboxId: string, containerId: string, rootless?: { spec: Spec }): JoinedSandbox {
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
    if (rootless !== undefined && isErrno(error, 'EACCES')) {
      refuse('ERR_INVALID_STATE', `is not this user's to join (uid ${process.geteuid!()}: ${(error as Error).message}); ` +
        'a rootless container joins only a sandbox of its own user', error);
    }
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
  let opened: OpenNamespace[] | null;
  try {
    opened = rootless === undefined ? openNamespaces(record.init!, ['pid', 'ipc', 'uts', 'network'])
      : openRootlessSandbox(lock, record, rootless.spec);
  } catch (error) {
    if (error instanceof SandboxJoinError) refuse('ERR_INVALID_STATE', error.message);
    lock.close();
    throw error;
  }
  if (opened === null) refuse('ERR_INVALID_STATE', 'is not running (its init is gone)');
  const fd = (type: string) => opened!.find((ns) => ns.type === type)?.fd;
  return {
    lock,
    record,
    namespaces: { pid: fd('pid')!, ipc: fd('ipc'), uts: fd('uts'), network: fd('network'), user: fd('user') },
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

class SandboxJoinError extends Error {}

/**
 * The namespaces of a sandbox, opened by a user who is not root, for a new member: its pid, ipc,
 * uts and network namespaces and its user namespace, which the member must share (the same
 * maps), or null when the sandbox's process is gone.
 *
 * The sandbox's init is not dumpable, and its mm is the host's (copied from the gofer before
 * its user namespace existed), so only CAP_SYS_PTRACE over the host may open its /proc/PID/ns
 * (ptrace access mode read): that is what keeps the container's root, and any process of a
 * shared pid namespace, from reading the init's memory or reaching runcell-init's binary, and
 * it stays so. The root container's own process is dumpable once it has exec'd (the kernel
 * resets dumpability at execve) and its mm then belongs to the container's user namespace,
 * which the user owns: its namespaces are the user's to open. We rely on that process being
 * where the init put it, checked as far as the kernel lets us:
 *   - the sandbox's pid namespace is the parent of its own (NS_GET_PARENT): the root's spec
 *     has a new pid namespace, so the init nested it (a process never leaves its pid namespace);
 *   - the user namespace is the owner of that pid namespace (NS_GET_USERNS), which is fixed at
 *     its creation: not whatever user namespace the process has moved into since;
 *   - its ipc, uts and network namespaces are owned by that user namespace. A root process
 *     that made new ones of its own (it has the rights to, in its user namespace) hands those
 *     to the members: within the one user's own namespaces, which is all a rootless member can
 *     ever reach.
 */
function openRootlessSandbox(lock: StateFile<ContainerRecord>, record: ContainerRecord, memberSpec: Spec): OpenNamespace[] | null {
  // Another user's sandbox (in a root directory both may read): its namespaces are not ours.
  const owner = fs.statSync(lock.statePath).uid;
  if (owner !== process.geteuid!()) {
    throw new SandboxJoinError(`belongs to uid ${owner}, not this user (uid ${process.geteuid!()}): a rootless container joins only a sandbox of its own user`);
  }
  const rootSpec = storedSpec(lock);
  for (const kind of ['uid', 'gid'] as const) {
    const field = `${kind}Mappings` as const;
    const ours = JSON.stringify(mappingsOf(memberSpec.linux?.[field]));
    const theirs = JSON.stringify(mappingsOf(rootSpec.linux?.[field]));
    if (ours !== theirs) {
      throw new SpecError(`config.json: config.linux.${field}: ${ours} differ from those of sandbox "${record.id}" (${theirs}): ` +
        'a rootless subcontainer joins its sandbox\'s user namespace, whose maps are that');
    }
  }
  // Only a new pid namespace nests the root's process in the sandbox's (launch-plan.ts), and so
  // names the sandbox's pid namespace and, through it, the user namespace made with it.
  const rootPid = (rootSpec.linux?.namespaces ?? []).find((ns) => ns.type === 'pid');
  if (rootPid === undefined || rootPid.path !== undefined) {
    throw new SandboxJoinError('has no pid namespace of its own (its config.linux.namespaces has no "pid" entry without a path): ' +
      'a rootless subcontainer cannot join it');
  }
  const user = record.user;
  if (user === null || user === undefined) throw new SandboxJoinError('has no process of its own yet (not started)');
  let opened: OpenNamespace[] | null;
  try {
    opened = openNamespaces(user, ['pid', 'ipc', 'uts', 'network']);
  } catch (error) {
    if (!isErrno(error, 'EACCES', 'EPERM')) throw error;
    throw new SandboxJoinError(`cannot be joined by this user: its process (pid ${user.pid}) is not dumpable ` +
      `(it may have run a setuid program or cleared its dumpable flag), so its namespaces are not this user's to open (${(error as Error).message})`);
  }
  if (opened === null) return null;
  const taken: number[] = [];
  const related = (fd: number, which: 'parent' | 'owner') => {
    const relative = native.namespaceRelative(fd, which);
    taken.push(relative);
    return relative;
  };
  try {
    const own = opened.find((ns) => ns.type === 'pid')!;
    const pid = related(own.fd, 'parent');
    const userNs = related(pid, 'owner');
    const userId = fs.fstatSync(userNs);
    const ourUser = fs.statSync('/proc/self/ns/user');
    if (userId.ino === ourUser.ino && userId.dev === ourUser.dev) {
      throw new SandboxJoinError('has no user namespace of its own: a rootless subcontainer cannot join it');
    }
    const result: OpenNamespace[] = [{ type: 'pid', fd: pid }, { type: 'user', fd: userNs }];
    for (const ns of opened) {
      if (ns.type === 'pid') continue;
      // One the sandbox shares with us (the host's network, say, for a spec without a network
      // namespace): the member's init is in it already, and has no right to join it again.
      if (sameNamespace(ns.fd, ns.type)) continue;
      const owner = fs.fstatSync(related(ns.fd, 'owner'));
      if (owner.ino !== userId.ino || owner.dev !== userId.dev) {
        throw new SandboxJoinError(`cannot be joined: the ${ns.type} namespace of its process (pid ${user.pid}) is neither ours nor one of its user namespace`);
      }
      result.push(ns);
    }
    // The descriptors kept are the result's; the pid namespace of the process itself, and the
    // owners checked, go.
    for (const fd of [...taken, ...opened.map((ns) => ns.fd)]) {
      if (!result.some((ns) => ns.fd === fd)) fs.closeSync(fd);
    }
    return result;
  } catch (error) {
    for (const fd of taken) fs.closeSync(fd);
    closeNamespaces(opened);
    throw error;
  }
}

function mappingsOf(mappings: Array<{ containerID: number; hostID: number; size: number }> | undefined) {
  return (mappings ?? []).map((m) => ({ containerID: m.containerID, hostID: m.hostID, size: m.size }));
}

// The root container's config, as create stored it.
function storedSpec(lock: StateFile<ContainerRecord>): Spec {
  const text = lock.readSideFile('spec');
  if (text === null) throw new SandboxJoinError(`has no stored config ('${lock.pathOf('spec')}' is missing)`);
  return validateSpec(JSON.parse(text), lock.pathOf('spec'));
}
