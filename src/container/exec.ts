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
import { Cgroup, isPureV2, layoutOf } from './cgroups';
import { ConsoleReceiver } from './console-receiver';
import { requireJoinable } from './rootless-cgroup';
import { runningInUserNamespace } from './rootless';
import { Container } from './container';
import { ContainerError } from './errors';
import { buildExecPlan, CAPABILITIES, describeFailure, type LaunchPlan, type NamespaceType } from './launch-plan';
import { runExecHelper } from './gofer';
import { formatReport, type Report } from './protocol';
import { closeNamespaces, openNamespaces } from './namespaces';
import { ociState, type ContainerRecord, type ProcessIdentity } from './record';
import { StateFile, UntrustedFileError } from './state-file';
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
  /**
   * For a terminal without a console socket: a new one all the same, whose master comes back
   * as ExecProcess.terminal (a foreground exec copies between it and its stdio).
   */
  receiveTerminal?: boolean;
  /** The terminal's size when the process starts (process.consoleSize; runc's exec gives the caller's). */
  consoleSize?: { height: number; width: number };
  /** Write the process's host pid here (no trailing newline). */
  pidFile?: string;
  /** Supplementary groups added to the process's (runc's --additional-gids). */
  additionalGids?: number[];
  /** process.apparmorProfile and process.selinuxLabel (runc's --apparmor, --process-label). */
  apparmorProfile?: string;
  selinuxLabel?: string;
  /** Descriptors 3..3+N-1 of this process that the process gets as its own 3..3+N-1. */
  preserveFds?: number;
  /**
   * Sub-cgroups of the container's to run in (runc's --cgroup): "path" for every hierarchy, or
   * "controller[,controller]:path" for some (cgroup v1). They must exist.
   */
  subCgroups?: string[];
  /** Exec in a paused container too: the process starts frozen, and runs once it is resumed. */
  ignorePaused?: boolean;
  /** The process's stdin, stdout and stderr: this program's own by default. */
  stdio?: [number, number, number];
}

export interface ExecProcess {
  pid: number;
  /** The master of the process's terminal, with receiveTerminal: the caller closes it. */
  terminal?: number;
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
// A user other than root has rights over the container's namespaces only as root of the user
// namespace that owns them: that one first (runc's nsexec joins the user namespace first too).
const UNPRIVILEGED_JOIN_ORDER: NamespaceType[] = ['user', 'ipc', 'uts', 'network', 'cgroup', 'pid', 'mount'];

/** Starts a process in a created or running container. */
export async function execContainer(rootDir: string, partialId: string, options: ExecOptions): Promise<ExecProcess> {
  const container = Container.load(rootDir, partialId);
  const { record } = container;
  const refuse = (why: string) => refuseExec(record.id, why);
  const status = container.status;
  if (status === Status.Paused && options.ignorePaused !== true) refuse('container is paused (resume it first, or use --ignore-paused)');
  if (status !== Status.Running && status !== Status.Created && status !== Status.Paused) refuse('container not running');
  const stored = storedSpec(rootDir, record);
  // A --process without capabilities gets the container's (runc: the config's, not none).
  const given = options.process;
  // Nor is it less confined than the container: it gets the container's security labels unless
  // it names its own (runc's exec does the same).
  const base = given === undefined ? undefined : {
    ...given,
    capabilities: given.capabilities ?? stored.process?.capabilities,
    apparmorProfile: given.apparmorProfile ?? stored.process?.apparmorProfile,
    selinuxLabel: given.selinuxLabel ?? stored.process?.selinuxLabel,
  };
  const proc = execProcess(base ?? stored.process, options);
  const terminal = proc.terminal === true;
  if (terminal && options.consoleSocket === undefined && !options.receiveTerminal) {
    throw new SpecError('process.terminal: a terminal needs --console-socket (or exec in the foreground)');
  }
  if (!terminal && options.consoleSocket !== undefined) throw new SpecError('--console-socket needs a terminal (--tty or process.terminal)');
  if (!terminal || options.consoleSocket !== undefined) {
    return launchExec(record, status, stored, proc, options, options.consoleSocket === undefined ? undefined : path.resolve(options.consoleSocket));
  }
  const ownConsole = new ConsoleReceiver();
  try {
    const started = await launchExec(record, status, stored, proc, options, ownConsole.path);
    try {
      return { ...started, terminal: ownConsole.receiveMaster() };
    } catch (error) {
      started.signal('SIGKILL');
      await started.wait().catch(() => undefined); // reaped; the error that counts is the terminal's
      throw error;
    }
  } finally {
    ownConsole.close();
  }
}

function refuseExec(id: string, why: string): never {
  throw new ContainerError('ERR_INVALID_STATE', `cannot exec in container "${id}": ${why}`, { containerId: id });
}

// The process `proc` started in the container, its terminal's master (if any) sent to `consoleSocket`.
async function launchExec(record: ContainerRecord, status: Status, stored: Spec, proc: Process, options: ExecOptions,
  consoleSocket: string | undefined): Promise<ExecProcess> {
  const refuse = (why: string) => refuseExec(record.id, why);
  const terminal = proc.terminal === true;
  // Its namespaces are those of the container's process (its init before start).
  const target = (status === Status.Running || status === Status.Paused ? record.user : null) ?? record.init!;
  const unprivileged = process.geteuid!() !== 0;
  if (unprivileged && target === record.init) {
    // Until start, only runcell-init's processes are there, and they are not dumpable (so that
    // the container cannot reach them through /proc): their namespaces are the host root's to
    // open, not the user's. runc's rootless exec can; runcell's cannot yet.
    refuse('rootless, a container can be joined only once it is started (its processes before start are not dumpable, ' +
      'so their namespaces are not this user\'s to open); start it first');
  }
  const layout = layoutOf(record.cgroupLayout);
  // Rootless (a user, or root of a user namespace: podman's runtime), the kernel may refuse the move.
  if ((unprivileged || runningInUserNamespace()) && record.cgroupPath !== undefined && isPureV2(layout)) {
    requireJoinable(layout.unified!, record.cgroupPath, fs.readFileSync('/proc/self/cgroup', 'utf8'), `cannot exec in container "${record.id}"`);
  }
  const namespaces = openNamespaces(target, unprivileged ? UNPRIVILEGED_JOIN_ORDER : JOIN_ORDER, { skipOwn: true });
  if (namespaces === null) refuse('container not running');
  let report: Report | undefined;
  let plan: LaunchPlan;
  try {
    const preserved = Array.from({ length: options.preserveFds ?? 0 }, (_, i) => 3 + i);
    const firstNsFd = 5 + preserved.length; // after stdio, the preserved descriptors, the plan and the report
    plan = buildExecPlan({ ...proc, terminal: terminal && consoleSocket !== undefined }, {
      keepFds: preserved.length,
      cgroupProcs: record.cgroupPath === undefined ? [] : execCgroupProcs(new Cgroup(layout, record.cgroupPath), options.subCgroups ?? []),
      cgroupUnified: layout.unified,
      namespaces: namespaces!.map((ns, i) => ({ type: ns.type, fd: firstNsFd + i })),
      seccomp: stored.linux?.seccomp,
      personality: stored.linux?.personality,
      consoleSocket,
      state: ociState(record),
      setgroupsDenied: unprivileged || (namespaces!.some((ns) => ns.type === 'user') && setgroupsDenied(target.pid)),
    });
    report = await runExecHelper(plan, [...(options.stdio ?? [0, 1, 2]), ...preserved], namespaces!.map((ns) => ns.fd));
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
  // Its seccomp profile and process are what the exec'd process gets: a copy someone else could
  // have written is refused (UntrustedFileError), never used.
  const stateFile = new StateFile(rootDir, { containerId: record.id, sandboxId: record.sandboxId });
  let text: string | null;
  try {
    text = stateFile.readSideFile('spec');
  } catch (error) {
    if (error instanceof UntrustedFileError) throw ContainerError.corrupt(record.id, error.path, error);
    throw error;
  } finally {
    stateFile.close();
  }
  if (text === null) return loadSpec(record.bundle);
  return validateSpec(JSON.parse(text), stateFile.pathOf('spec'));
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
  for (const gid of options.additionalGids ?? []) {
    if (!Number.isInteger(gid) || gid < 0 || gid > 0xffffffff) throw new SpecError(`--additional-gids: ${gid} is not a group id`);
    proc.user = { ...proc.user, additionalGids: [...(proc.user.additionalGids ?? []), gid] };
  }
  // The spec's process fields; the launch plan applies them or refuses them by name.
  const labels = proc as Process & { apparmorProfile?: string; selinuxLabel?: string };
  if (options.apparmorProfile !== undefined && options.apparmorProfile !== '') labels.apparmorProfile = options.apparmorProfile;
  if (options.selinuxLabel !== undefined && options.selinuxLabel !== '') labels.selinuxLabel = options.selinuxLabel;
  // As runc: from the container's process, a terminal only with --tty (its config's is the
  // container process's); a --process says for itself, or --tty does.
  if (options.process === undefined) proc.terminal = options.tty === true;
  else if (options.tty === true) proc.terminal = true;
  if (options.consoleSize !== undefined && proc.terminal === true) proc.consoleSize = options.consoleSize;
  return proc;
}

/**
 * The cgroup.procs files an exec'd process joins: the container's, or its sub-cgroups named by
 * runc's --cgroup arguments ("path": every hierarchy; "cpu,memory:path": those v1 controllers'),
 * which must lie inside the container's cgroup and exist (runc 1.1's rules).
 */
export function execCgroupProcs(cgroup: Cgroup, args: string[]): string[] {
  if (args.length === 0) return cgroup.procsFiles();
  const sub = new Map<string, string>(); // controller ("" for all) -> path under the container's cgroup
  for (const arg of args) {
    const parts = arg.split(':');
    if (parts.length > 2) throw new SpecError(`--cgroup: invalid argument "${arg}"`);
    if (parts.length === 1) {
      if (args.length !== 1) throw new SpecError(`--cgroup: invalid argument "${arg}" (missing <controller>: prefix)`);
      sub.set('', arg);
    } else {
      for (const controller of parts[0].split(',')) sub.set(controller, parts[1]);
    }
  }
  const inside = (dir: string, add: string): string => {
    const joined = path.posix.join(dir, add);
    if (joined !== dir && !joined.startsWith(dir + '/')) throw new SpecError(`--cgroup: ${add} is not a sub cgroup path`);
    return joined;
  };
  const all = sub.get('');
  if (all !== undefined) return cgroup.directories().map((dir) => path.join(inside(dir, all), 'cgroup.procs'));
  // Per controller: v1 hierarchies only (cgroup v2 has one path for all, as runc says).
  const dirs = new Map<string, string>();
  if (!cgroup.isV2) for (const [controller, mountPoint] of cgroup.layout.v1) dirs.set(controller, path.join(mountPoint, cgroup.cgroupPath));
  for (const controller of sub.keys()) if (!dirs.has(controller)) throw new SpecError(`--cgroup: unknown controller "${controller}"`);
  const byDir = new Map<string, string>(); // each hierarchy once (cpu and cpuacct may share one)
  for (const dir of cgroup.directories()) byDir.set(dir, dir);
  for (const [controller, dir] of dirs) {
    const add = sub.get(controller);
    if (add !== undefined) byDir.set(dir, inside(dir, add));
  }
  return [...byDir.values()].map((dir) => path.join(dir, 'cgroup.procs'));
}

// The process is our child (CLONE_PARENT): its status is ours to reap.
async function reap(pid: number): Promise<number> {
  const status = await reapChild(pid);
  if (status === null) throw new Error(`process ${pid} is not a child of this process, or was reaped elsewhere`);
  return status;
}

// Whether the user namespace of `pid` denies setgroups (made rootless: see launch-plan.ts). Read
// once its namespaces are open, which checked that `pid` is still the container's process.
function setgroupsDenied(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim() === 'deny';
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ESRCH')) return false;
    throw error;
  }
}
