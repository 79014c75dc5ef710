// `runcell checkpoint`: the container's process tree written to an image directory by CRIU.
//
// CRIU cannot dump nested pid namespaces (criu#2086), and the container's tree is the init
// (pid 1 of the container's pid namespace) with the user's process in a pid namespace of its
// own below it. What is dumped is the user's process and its descendants: pid 1 of their own
// namespace, with the mount, network, uts, ipc (and cgroup) namespaces the init made, which go
// into the image. The init and the gofer are runcell's, not the application's: a restore makes
// their like again (restore.ts).
//
// Under the container's lock throughout. The state is written only once CRIU has succeeded:
// a checkpoint that fails, or whose CLI is killed half-way, leaves the container as it was
// (CRIU resumes the tree when it cannot reach us: it waits for our answer at each of its
// notifications, so it learns of our end there).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../sys/errno';
import { isProcessAlive, waitForExit } from '../sys/process';
import type { Spec } from '../oci/spec';
import { cgroupOf, withLockedRecord } from './control';
import { criuLogErrors, CriuSession, locateCriu, ReqType, type CgroupMode, type CriuOpts } from './criu';
import {
  DESCRIPTION_FILE, DESCRIPTORS_FILE, EXTERNAL_NETNS_KEY, externalMounts, externalStdio, type CheckpointDescription,
} from './checkpoint-image';
import { ContainerError } from './errors';
import { observedStatus, type ContainerRecord } from './record';
import { membershipOf } from './sandbox';
import type { StateFile } from './state-file';
import { requireStatus, Status, transition } from './status';

/** CRIU's options shared by checkpoint and restore (runc's flags of both). */
export interface CriuFlags {
  /** The CRIU binary (runc's global --criu); default `criu` in PATH. */
  criu?: string;
  /** Where CRIU writes its log and other files (--work-path); default the image directory. */
  workPath?: string;
  /** --tcp-established: allow open TCP connections. */
  tcpEstablished?: boolean;
  /** --ext-unix-sk: allow external unix sockets. */
  extUnixSk?: boolean;
  /** --shell-job: allow a shell job (a terminal's session). */
  shellJob?: boolean;
  /** --file-locks: handle file locks. */
  fileLocks?: boolean;
  /** --manage-cgroups-mode: soft, full, strict or ignore. */
  manageCgroupsMode?: CgroupMode;
  /** --lazy-pages: refused (needs userfaultfd and a page server runcell does not run). */
  lazyPages?: boolean;
}

export interface CheckpointOptions extends CriuFlags {
  /** Where the images go (--image-path; created if missing). */
  imagePath: string;
  /** A previous pre-dump's images (--parent-path), relative to the image directory or absolute. */
  parentPath?: string;
  /** Keep the container running after the checkpoint (--leave-running). */
  leaveRunning?: boolean;
  /** Namespaces to leave empty, not dumped (--empty-ns): only "network", as runc. */
  emptyNs?: string[];
  /** --auto-dedup: free the parent's pages this image duplicates. */
  autoDedup?: boolean;
}

const MANAGE_CGROUPS_MODES: readonly CgroupMode[] = ['soft', 'full', 'strict', 'ignore'];
const CLONE_NEWNET = 0x40000000;

/** The CRIU flags common to both actions, checked (a refused one names itself). */
export function criuFlagOptions(flags: CriuFlags, action: 'checkpoint' | 'restore'): Partial<CriuOpts> {
  if (flags.lazyPages) {
    throw new ContainerError(action === 'checkpoint' ? 'ERR_CHECKPOINT_FAILED' : 'ERR_RESTORE_FAILED',
      `--lazy-pages is not supported: runcell runs no CRIU page server (runc's --page-server) to serve the pages`);
  }
  if (flags.manageCgroupsMode !== undefined && !MANAGE_CGROUPS_MODES.includes(flags.manageCgroupsMode)) {
    throw new ContainerError(action === 'checkpoint' ? 'ERR_CHECKPOINT_FAILED' : 'ERR_RESTORE_FAILED',
      `--manage-cgroups-mode: "${flags.manageCgroupsMode}" is not one of ${MANAGE_CGROUPS_MODES.join(', ')}`);
  }
  return {
    tcpEstablished: flags.tcpEstablished || undefined,
    extUnixSk: flags.extUnixSk || undefined,
    shellJob: flags.shellJob || undefined,
    fileLocks: flags.fileLocks || undefined,
  };
}

/** Opens a directory for CRIU (which reads it through /proc/<our pid>/fd/N), creating it. */
export function openDirectory(dir: string, what: string): number {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  if (!fs.fstatSync(fd).isDirectory()) {
    fs.closeSync(fd);
    throw new Error(`${what} "${dir}" is not a directory`);
  }
  return fd;
}

/** Checkpoints a running container into `options.imagePath`. */
export async function checkpointContainer(rootDir: string, partialId: string, options: CheckpointOptions): Promise<void> {
  const flagOpts = criuFlagOptions(options, 'checkpoint');
  let emptyNs: number | undefined;
  for (const ns of options.emptyNs ?? []) {
    if (ns !== 'network') {
      throw new ContainerError('ERR_CHECKPOINT_FAILED', `--empty-ns: "${ns}": only the network namespace can be left empty (as runc)`);
    }
    emptyNs = CLONE_NEWNET;
  }
  const criu = await locateCriu(options.criu);
  await withLockedRecord(rootDir, partialId, async (record, stateFile) => {
    const id = record.id;
    const fail = (why: string, cause?: unknown) =>
      new ContainerError('ERR_CHECKPOINT_FAILED', `cannot checkpoint container "${id}": ${why}`, { containerId: id, cause });
    const status = observedStatus(record);
    requireStatus('checkpoint', id, status, Status.Running, Status.Paused);
    // A paused container (containerd's shim pauses before it checkpoints) is taken through its
    // frozen cgroup (runc's freeze_cgroup); CRIU leaves the freezer as it found it.
    const paused = status === Status.Paused;
    const freezer = paused ? cgroupOf(record, 'checkpoint') : undefined;
    refuseSandbox(record, fail);
    const spec = storedSpec(stateFile);
    const user = record.user;
    if (user === null || user === undefined || !isProcessAlive(user.pid, user.startTime)) throw fail('its process is not running');

    let description: CheckpointDescription;
    let external: string[];
    try {
      const namespaces = checkedNamespaces(spec);
      const { mounts, mountIds } = externalMounts(user.pid, spec, id);
      const stdio = externalStdio(user.pid, mountIds);
      external = [...mounts.map((m) => `mnt[${m.destination}]:${m.destination}`), ...stdio.external];
      if (namespaces.externalNetwork) external.push(`net[${fs.statSync(`/proc/${user.pid}/ns/net`).ino}]:${EXTERNAL_NETNS_KEY}`);
      description = { version: 1, container: id, stdio: stdio.keys, mounts, externalNetwork: namespaces.externalNetwork };
      if (stdio.terminal) description.terminal = true;
      fs.mkdirSync(options.imagePath, { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(options.imagePath, DESCRIPTORS_FILE), JSON.stringify(stdio.paths), { mode: 0o600 });
      fs.writeFileSync(path.join(options.imagePath, DESCRIPTION_FILE), JSON.stringify(description), { mode: 0o600 });
    } catch (error) {
      if (error instanceof ContainerError) throw error;
      throw fail((error as Error).message, error);
    }

    const imagesDirFd = openDirectory(options.imagePath, '--image-path');
    const workDirFd = options.workPath === undefined ? undefined : openDirectory(options.workPath, '--work-path');
    const session = await CriuSession.spawn(criu);
    try {
      const response = await session.request(ReqType.Dump, {
        ...flagOpts,
        imagesDirFd,
        workDirFd,
        parentImg: options.parentPath,
        pid: user.pid,
        leaveRunning: options.leaveRunning || undefined,
        autoDedup: options.autoDedup || undefined,
        manageCgroupsMode: options.manageCgroupsMode,
        emptyNs,
        external,
        cgroupDumpController: ownControllers(user.pid),
        freezeCgroup: freezer?.freezerDir(),
        // A terminal's slave without its master (the console socket listener's): dumped (runc's).
        orphanPtsMaster: description.terminal,
        logLevel: 4,
        logFile: 'dump.log',
      });
      if (!response.success) {
        const log = path.join(options.workPath ?? options.imagePath, 'dump.log');
        const why = criuLogErrors(log) ?? response.errmsg;
        throw fail(`criu dump failed${why ? `: ${why}` : ''}; see ${log}`);
      }
    } finally {
      await session.close();
      fs.closeSync(imagesDirFd);
      if (workDirFd !== undefined) fs.closeSync(workDirFd);
    }
    if (freezer !== undefined && (!options.leaveRunning || !freezer.isFrozen())) {
      // Thawed (by CRIU, or by us for the killed tree to go): running again, as far as it runs.
      if (!options.leaveRunning) await freezer.setFrozen(false);
      record.status = transition(record.status, Status.Running);
      stateFile.saveLocked(record);
    }
    if (!options.leaveRunning) await stopped(record, stateFile);
  });
}

// CRIU has killed the tree: the init reaps it and exits, the gofer records its status. The
// container is stopped, and stays recorded (as runc's).
async function stopped(record: ContainerRecord, stateFile: StateFile<ContainerRecord>): Promise<void> {
  if (record.init !== null) {
    await waitForExit(record.init.pid).catch((error) => {
      if (!isErrno(error, 'ESRCH')) throw error;
    });
  }
  record.status = transition(record.status, Status.Stopped);
  stateFile.saveLocked(record);
}

/**
 * A sandbox (pod) is refused: its members share the root's pid namespace, each a nested one of
 * its own, so no one tree holds the pod, and CRIU cannot dump nested pid namespaces. runsc
 * checkpoints the whole sandbox because its kernel is its own; here it would take CRIU's
 * single-level nested pid namespace support (criu#2968, open).
 */
function refuseSandbox(record: ContainerRecord, fail: (why: string) => Error): void {
  if (record.sandboxId !== record.id) {
    throw fail(`it is a member of sandbox "${record.sandboxId}", whose pid namespace nests its own, which CRIU cannot dump`);
  }
  if (membershipOf(record.id, record.annotations).isCriSandbox) {
    throw fail('it is a sandbox (pod) root: its members\' pid namespaces nest in its own, which CRIU cannot dump (checkpoint the pod\'s containers with their engine)');
  }
}

/**
 * The cgroup controllers in which the process has a cgroup below the hierarchy's root: the ones
 * CRIU is to dump. CRIU dumps, for each controller, the whole subtree of the task's cgroup, and
 * a restore recreates it under the new cgroup: in a hierarchy where runcell makes no cgroup
 * (name=systemd on hybrid hosts) that would be every cgroup of the host, copied again into the
 * hierarchy by every restore. Undefined when there is none to leave out.
 */
function ownControllers(pid: number): string[] | undefined {
  const controllers: string[] = [];
  let atRoot = false;
  for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (match === null) continue;
    if (match[2] === '/') atRoot = true;
    else controllers.push(match[1] === '' ? 'unified' : match[1]);
  }
  // Nothing to leave out (pure v2, where the container always has its cgroup): CRIU's default,
  // which names the controllers as it knows them.
  return atRoot ? controllers : undefined;
}

function storedSpec(stateFile: StateFile<ContainerRecord>): Spec {
  const text = stateFile.readSideFile('spec');
  if (text === null) throw new Error(`'${stateFile.pathOf('spec')}' is missing: the container's config is not known`);
  return JSON.parse(text) as Spec;
}

/**
 * What CRIU can take of the spec's namespaces: the process must be pid 1 of a pid namespace of
 * its own (the tree CRIU dumps); of namespaces joined by path, only the network namespace
 * (external, joined again on restore, as runc); no user namespace (not yet).
 */
function checkedNamespaces(spec: Spec): { externalNetwork: boolean } {
  const namespaces = spec.linux?.namespaces ?? [];
  let externalNetwork = false;
  let ownPid = false;
  for (const [i, ns] of namespaces.entries()) {
    const field = `config.linux.namespaces[${i}]`;
    if (ns.type === 'user') throw new Error(`${field}: a container with a user namespace cannot be checkpointed yet`);
    if (ns.path === undefined || ns.path === '') {
      if (ns.type === 'pid') ownPid = true;
      continue;
    }
    if (ns.type === 'network') externalNetwork = true;
    else throw new Error(`${field}: a ${ns.type} namespace joined by path ("${ns.path}") cannot be checkpointed (only a network namespace can)`);
  }
  if (!ownPid) throw new Error('config.linux.namespaces: the process has no pid namespace of its own, so there is no tree for CRIU to dump');
  return { externalNetwork };
}
