// `exec`: another process in a running container. native/init's exec helper joins the
// container's cgroup and namespaces, then clones the process with the calling program as its
// parent, so conmon or containerd's shim (child subreapers) reap it and read its status. The
// process runs the same steps as the container's own (rlimits, identity, capabilities,
// seccomp, cwd), from the container's process adjusted by the options, as runc's exec does.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../sys/errno';
import { processStartTime, reapChild, signalProcess } from '../sys/process';
import { loadSpec, SpecError, validateProcess, validateSpec, type Process, type Spec } from '../oci/spec';
import { Cgroup, detectLayout } from './cgroups';
import { Container } from './container';
import { ContainerError } from './errors';
import { buildExecPlan, CAPABILITIES, describeFailure, type LaunchPlan, type NamespaceType } from './launch-plan';
import { runExecHelper } from './gofer';
import { formatReport, type Report } from './protocol';
import { closeNamespaces, openNamespaces } from './namespaces';
import { ociState, type ContainerRecord, type ProcessIdentity } from './record';
import { StateFile } from './state-file';
import { Status } from './status';
import { writePidFile } from './pid-file';

export interface ExecOptions {
  /** The program and its arguments; replaces the process's args. */
  args?: string[];
  /** A whole process (`exec --process process.json`) instead of the container's own; the
   * options below still adjust it. */
  process?: Process;
  cwd?: string;
  /** KEY=value entries, each set or replacing the variable of that name. */
  env?: string[];
  user?: { uid: number; gid?: number };
  /** Capabilities added to every set of the process (CAP_NET_ADMIN or NET_ADMIN). */
  capabilities?: string[];
  noNewPrivileges?: boolean;
  /** A terminal for the process (process.terminal); its master goes to consoleSocket. */
  tty?: boolean;
  consoleSocket?: string;
  /** For a terminal without a console socket: the process gets this program's stdio instead. */
  terminalPassthrough?: boolean;
  /** Write the process's host pid here (no trailing newline). */
  pidFile?: string;
  /** The process's stdin, stdout and stderr: this program's own by default. */
  stdio?: [number, number, number];
}

export interface ExecProcess {
  pid: number;
  /** Signals the process (a foreground exec forwards its own signals). */
  signal(signal: number | string): void;
  /**
   * Waits for the process and reaps it (it is this program's child): its exit code, or
   * 128+signal. Call it, or exit, or the process stays a zombie once it ends.
   */
  wait(): Promise<number>;
}

// Entered in this order: everything as the host's root, the mount namespace after every path
// is opened, the user namespace last (entering it first would take our rights over the rest).
const JOIN_ORDER: NamespaceType[] = ['ipc', 'uts', 'network', 'cgroup', 'pid', 'mount', 'user'];

/** Starts a process in a created or running container. */
export async function execContainer(rootDir: string, partialId: string, options: ExecOptions): Promise<ExecProcess> {
  const container = Container.load(rootDir, partialId);
  const { record } = container;
  const refuse = (why: string): never => {
    throw new ContainerError('ERR_INVALID_STATE', `cannot exec in container "${record.id}": ${why}`, { containerId: record.id });
  };
  const status = container.status;
  if (status === Status.Paused) refuse('container is paused (resume it first)');
  if (status !== Status.Running && status !== Status.Created) refuse('container not running');
  const stored = storedSpec(rootDir, record);
  // A --process without capabilities gets the container's (runc: the config's, not none).
  const given = options.process;
  const base = given !== undefined && given.capabilities === undefined ? { ...given, capabilities: stored.process?.capabilities } : given;
  const proc = execProcess(base ?? stored.process, options);
  const terminal = proc.terminal === true;
  if (terminal && options.consoleSocket === undefined && !options.terminalPassthrough) {
    throw new SpecError('process.terminal: a terminal needs --console-socket (or exec in the foreground)');
  }
  if (!terminal && options.consoleSocket !== undefined) throw new SpecError('--console-socket needs a terminal (--tty or process.terminal)');
  const consoleSocket = options.consoleSocket === undefined ? undefined : path.resolve(options.consoleSocket);

  // Its namespaces are those of the container's process (its init before start).
  const target = (status === Status.Running ? record.user : null) ?? record.init!;
  const namespaces = openNamespaces(target, JOIN_ORDER, { skipOwn: true });
  if (namespaces === null) refuse('container not running');
  let report: Report | undefined;
  let plan: LaunchPlan;
  try {
    const firstNsFd = 5; // after stdio, the plan (3) and the report (4)
    plan = buildExecPlan({ ...proc, terminal: terminal && consoleSocket !== undefined }, {
      cgroupProcs: record.cgroupPath === undefined ? [] : new Cgroup(detectLayout(), record.cgroupPath).procsFiles(),
      namespaces: namespaces!.map((ns, i) => ({ type: ns.type, fd: firstNsFd + i })),
      seccomp: stored.linux?.seccomp,
      consoleSocket,
      state: ociState(record),
    });
    report = await runExecHelper(plan, options.stdio ?? [0, 1, 2], namespaces!.map((ns) => ns.fd));
  } finally {
    closeNamespaces(namespaces!);
  }
  if (report?.type === 'error') {
    if (report.child !== undefined) await reap(report.child); // our child: it exited at once
    throw new ContainerError('ERR_EXEC_FAILED',
      `cannot exec in container "${record.id}": ${describeFailure(plan, report.step, report.errno)}`, { containerId: record.id });
  }
  if (report?.type !== 'started' || report.pid === undefined) {
    const why = report === undefined ? 'its helper exited without a report' : `its helper sent "${formatReport(report)}" where "started <pid>" was due`;
    throw new ContainerError('ERR_EXEC_FAILED', `cannot exec in container "${record.id}": ${why}`, { containerId: record.id });
  }
  const pid = report.pid;
  const identity: ProcessIdentity = { pid, startTime: processStartTime(pid) }; // a zombie until reaped: still there
  if (options.pidFile !== undefined) writePidFile(options.pidFile, pid);
  return {
    pid,
    signal: (signal) => {
      signalProcess(identity.pid, identity.startTime, signal);
    },
    wait: () => reap(pid),
  };
}

// The container's config.json as create read it (kept beside its state), or the bundle's for
// a container created without that copy.
function storedSpec(rootDir: string, record: ContainerRecord): Spec {
  const file = new StateFile(rootDir, { containerId: record.id, sandboxId: record.sandboxId }).pathOf('spec');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return loadSpec(record.bundle);
    throw error;
  }
  return validateSpec(JSON.parse(text), file);
}

/** The process to exec: `base` with the options applied (runc's exec flags). */
export function execProcess(base: Process | undefined, options: ExecOptions): Process {
  if (base === undefined) throw new SpecError('the container has no process to start from: give --process');
  const proc: Process = structuredClone(options.process === undefined ? base : validateProcess(base, 'process'));
  // As runc: the command is given, or comes with a whole process; never the container's own.
  if (options.args !== undefined && options.args.length > 0) proc.args = [...options.args];
  else if (options.process === undefined || proc.args === undefined || proc.args.length === 0) {
    throw new SpecError('exec needs a command (or a --process with args)');
  }
  if (options.cwd !== undefined) {
    if (!options.cwd.startsWith('/')) throw new SpecError(`--cwd: "${options.cwd}" is not an absolute path`);
    proc.cwd = options.cwd;
  }
  for (const entry of options.env ?? []) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new SpecError(`--env: "${entry}" does not have the form KEY=value`);
    const key = entry.slice(0, eq + 1);
    proc.env = [...(proc.env ?? []).filter((e) => !e.startsWith(key)), entry];
  }
  if (options.user !== undefined) {
    proc.user = { ...proc.user, uid: options.user.uid, gid: options.user.gid ?? proc.user.gid };
  }
  if (options.capabilities !== undefined && options.capabilities.length > 0) {
    const added = options.capabilities.map((name) => {
      const full = name.toUpperCase().startsWith('CAP_') ? name.toUpperCase() : `CAP_${name.toUpperCase()}`;
      if (!CAPABILITIES.includes(full)) throw new SpecError(`--cap: unknown capability "${name}"`);
      return full;
    });
    const caps = proc.capabilities ?? {};
    const add = (set: string[] | undefined) => [...new Set([...(set ?? []), ...added])];
    proc.capabilities = {
      bounding: add(caps.bounding), effective: add(caps.effective), permitted: add(caps.permitted),
      inheritable: add(caps.inheritable), ambient: add(caps.ambient),
    };
  }
  if (options.noNewPrivileges === true) proc.noNewPrivileges = true;
  if (options.tty === true) proc.terminal = true;
  return proc;
}

// The process is our child (CLONE_PARENT): its status is ours to reap.
async function reap(pid: number): Promise<number> {
  const status = await reapChild(pid);
  if (status === null) throw new Error(`process ${pid} is not a child of this process, or was reaped elsewhere`);
  return status;
}
