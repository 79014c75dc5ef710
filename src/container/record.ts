// What a container's state file holds, how its live status is observed, and its OCI state view.
import { isProcessAlive } from '../sys/process';
import { OCI_VERSION } from '../version';
import { ContainerError } from './errors';
import type { FullId } from './id';
import { isStatus, Status } from './status';

export const RECORD_VERSION = 1;

/** A process as we recorded it: the pid alone could be reused by another process. */
export interface ProcessIdentity {
  pid: number;
  /** Clock ticks after boot, from /proc/PID/stat. */
  startTime: number;
}

export interface ContainerRecord {
  version: typeof RECORD_VERSION;
  id: string;
  sandboxId: string;
  /** The status last written; the live one is observedStatus(). */
  status: Status;
  /** Absolute path of the bundle directory. */
  bundle: string;
  /** Absolute path of the root filesystem. */
  rootfs: string;
  /** RFC 3339 time of creation. */
  created: string;
  /** User name of the creator, or #uid. */
  owner: string;
  annotations: Record<string, string>;
  /** The container's init (its pid is the container's pid in OCI state), once started. */
  init: ProcessIdentity | null;
  /** The host-side helper that records the exit status, once started. */
  gofer: ProcessIdentity | null;
  /** The user's process (what `kill` signals), once started. */
  user?: ProcessIdentity | null;
  /** config.json's hooks: poststart and poststop run long after create read the bundle. */
  hooks?: Record<string, unknown>;
  /** The container's cgroup (linux.cgroupsPath, or /runcell/<id>; under systemd, its unit's). */
  cgroupPath?: string;
  /** The cgroup hierarchies the cgroup was made in (cgroups.ts, RecordedLayout; checked where read). */
  cgroupLayout?: unknown;
  /** Under --systemd-cgroup: the transient unit systemd made for the cgroup, stopped on delete. */
  systemdUnit?: string;
  /** Whose systemd the unit is: absent for the host's, "user" for the user's own instance (rootless). */
  systemdInstance?: 'user';
  /** Descriptions of the steps run after the start gate, by plan index, for start errors. */
  startSteps?: Record<string, string>;
  /** config.json's process.oomScoreAdj: the OOM-score policy of the sandbox reads it. */
  oomScoreAdj?: number;
  /** A sandbox's root only: its init's oom_score_adj at create, restored when no member has one. */
  originalOOMScoreAdj?: number;
}

/** The state the runtime-spec defines (runtime.md "State"), with runc's extra fields. */
export interface OciState {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

/** Checks that parsed JSON is a record of the container the file is named after. */
export function validateRecord(value: unknown, id: FullId, path: string): ContainerRecord {
  const fail = (what: string): never => {
    throw ContainerError.corrupt(id.containerId, path, new Error(what));
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('not a JSON object');
  const record = value as Partial<ContainerRecord>;
  if (record.version !== RECORD_VERSION) fail(`unsupported record version ${JSON.stringify(record.version)}`);
  if (record.id !== id.containerId || record.sandboxId !== id.sandboxId) {
    fail(`it names container ${JSON.stringify(record.id)} of sandbox ${JSON.stringify(record.sandboxId)}`);
  }
  if (!isStatus(record.status)) fail(`invalid status ${JSON.stringify(record.status)}`);
  for (const field of ['bundle', 'rootfs', 'created', 'owner'] as const) {
    if (typeof record[field] !== 'string') fail(`"${field}" is not a string`);
  }
  if (typeof record.annotations !== 'object' || record.annotations === null) fail('"annotations" is not an object');
  for (const field of ['cgroupPath', 'systemdUnit'] as const) {
    if (record[field] !== undefined && typeof record[field] !== 'string') fail(`"${field}" is not a string`);
  }
  if (record.systemdInstance !== undefined && record.systemdInstance !== 'user') fail('"systemdInstance" is not "user"');
  for (const field of ['init', 'gofer', 'user'] as const) {
    const proc = record[field];
    if (field === 'user' && proc === undefined) continue;
    if (proc !== null && (typeof proc !== 'object' || !Number.isInteger(proc?.pid) || typeof proc?.startTime !== 'number')) {
      fail(`"${field}" is not a process identity`);
    }
  }
  return record as ContainerRecord;
}

/**
 * The status as it is now: a container whose init has exited (or became a zombie, or whose pid
 * now belongs to another process) is stopped, whatever was last written. runc likewise derives
 * the status from the kernel on every load rather than trusting the file.
 */
export function observedStatus(record: ContainerRecord): Status {
  const mayRun = record.status === Status.Created || record.status === Status.Running || record.status === Status.Paused;
  if (mayRun && (record.init === null || !isProcessAlive(record.init.pid, record.init.startTime))) {
    return Status.Stopped;
  }
  return record.status;
}

export function ociState(record: ContainerRecord, status: Status = observedStatus(record)): OciState {
  const state: OciState = {
    ociVersion: OCI_VERSION,
    id: record.id,
    // runc reports 0 once the container has stopped (runc#1002).
    pid: status === Status.Stopped || record.init === null ? 0 : record.init.pid,
    status,
    bundle: record.bundle,
    rootfs: record.rootfs,
    created: record.created,
    owner: record.owner,
  };
  if (Object.keys(record.annotations).length > 0) state.annotations = record.annotations;
  return state;
}
