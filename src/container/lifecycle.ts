// A container's processes: create (gofer and init up to the start gate), start (open the gate),
// kill, wait (the exit status, whoever reaped the init), and run (all of it in the foreground).
//
// Crash safety of create: the state is saved as `creating` before any process exists, then
// with the gofer's identity as soon as it does, and the gofer keeps the init alive only once
// create has saved the init's identity and said "commit". A CLI killed at any instant leaves
// either nothing running, or a recorded container that `delete --force` removes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../sys/errno';
import { native } from '../sys/native';
import { isProcessAlive, reapChild, signalProcess, waitForExit } from '../sys/process';
import { loadSpec, SpecError, type Spec } from '../oci/spec';
import { Cgroup, detectLayout, isPureV2, recordLayout, type LinuxResources } from './cgroups';
import { callerCgroupView, cgroupViewOf } from './cgroup-view';
import { idmapHelpers, isRootless, requestedLimits, runningInUserNamespace } from './rootless';
import { delegatedCgroupPath, requireDelegated } from './rootless-cgroup';
import {
  requireSystemdHost, ROOTLESS_DEFAULT_SLICE, startContainerUnit, Systemd, systemdUnitOf, updateContainerUnit, type SystemdUnit,
} from './systemd';
import { cgroupStats, type Stats } from './stats';
import { containerDeviceRules } from './device-filter';
import { log, logPhase } from '../log';
import { Container, currentOwner, stopProcesses, type RecordedProcesses } from './container';
import { ContainerError } from './errors';
import { buildLaunchPlan, describeFailure, type LaunchPlan, type SandboxNamespaces } from './launch-plan';
import { Gofer } from './gofer';
import { identityOf, startRecorded } from './start';
import { parseExitRecord, type ExitRecord } from './protocol';
import { observedStatus, ociState, RECORD_VERSION, type ContainerRecord } from './record';
import { hooksOf, nativeHookState, runHooks } from './hooks';
import { adjustGoferOOMScore, readOOMScore } from './oom-score';
import { joinSandbox, membershipOf, type JoinedSandbox, type SandboxMembership } from './sandbox';
import { StateFile, UntrustedFileError } from './state-file';
import { writePidFile } from './pid-file';
import { ConsoleReceiver } from './console-receiver';
import { cgroupOf, withLockedRecord } from './control';
import { requireStatus, Status, transition } from './status';

export interface CreateOptions {
  /** The bundle directory (config.json and usually the root filesystem). */
  bundle: string;
  /** Write the init's pid here (no trailing newline: containerd parses it with Atoi). */
  pidFile?: string;
  /** Descriptors 3..3+N-1 of this process that the container keeps (--preserve-fds). */
  preserveFds?: number;
  /** Descriptors handed over by systemd socket activation (LISTEN_FDS), kept after those. */
  listenFds?: number;
  /** The container's stdin, stdout and stderr: this process's own by default. */
  stdio?: [number, number, number];
  /**
   * For `process.terminal: true`: a unix socket to which the terminal's master is sent
   * (SCM_RIGHTS), as conmon and containerd's shim expect.
   */
  consoleSocket?: string;
  /**
   * The systemd cgroup driver (runc's --systemd-cgroup): the cgroup is a transient scope that
   * systemd makes, `linux.cgroupsPath` is "slice:prefix:name" (default
   * `system.slice:runcell:<id>`). See systemd.ts.
   */
  systemdCgroup?: boolean;
  /**
   * Work as a user without privileges (runc's --rootless): the container gets a cgroup only if
   * one can be made, limits are refused without one. Default: rootless when not the host's root
   * (isRootless).
   */
  rootless?: boolean;
}

export type { ExitRecord } from './protocol';
export { identityOf, startContainer } from './start';
export { containerPids, killContainer, pauseContainer, type KillOptions } from './control';


/** Creates a container: its init waits at the start gate when this returns. */
export async function createContainer(rootDir: string, id: string, options: CreateOptions): Promise<Container> {
  // The record as create saved it at its commit, not read again (~12 syscalls and a parse of
  // every library create): what a load would have returned, unless someone changed it since.
  return Container.saved(rootDir, await createRecorded(rootDir, id, options));
}

// The create, which leaves the container recorded (and its lock released); the record as
// saved at the commit.
// A foreground run passes `ownConsole`: a terminal without a console socket goes to that one.
async function createRecorded(rootDir: string, id: string, options: CreateOptions, ownConsole?: ConsoleReceiver): Promise<ContainerRecord> {
  const bundle = path.resolve(options.bundle);
  // A bad config.json is refused before anything exists.
  const spec = loadSpec(bundle);
  logPhase('create: config.json read');
  const terminal = spec.process?.terminal === true;
  if (terminal && options.consoleSocket === undefined) {
    if (ownConsole === undefined) {
      throw new SpecError(`${path.join(bundle, 'config.json')}: config.process.terminal: a terminal needs --console-socket ` +
        '(or run in the foreground)');
    }
    options = { ...options, consoleSocket: ownConsole.path };
  }
  if (!terminal && options.consoleSocket !== undefined) {
    throw new SpecError(`--console-socket needs a terminal: ${path.join(bundle, 'config.json')} does not set process.terminal`);
  }
  if (process.geteuid!() !== 0) refuseUnprivileged(spec, bundle);
  const membership = membershipOf(id, spec.annotations);
  // A subcontainer holds its sandbox's lock throughout: the sandbox cannot go, nor another
  // member come or go, while this one is half made. A user other than root joins it through
  // the sandbox's own process, and into its user namespace (sandbox.ts).
  const sandbox = membership.isRoot ? undefined
    : joinSandbox(rootDir, membership.sandboxId, id, process.geteuid!() !== 0 ? { spec } : undefined);
  try {
    return await createInSandbox(rootDir, id, bundle, spec, options, membership, sandbox);
  } finally {
    sandbox?.close();
  }
}

// What a create (or restore) that failed had made goes: its processes, its systemd unit, its
// cgroup, its state. Nothing else is touched; each failure only warns, so the rest still goes.
export async function undoNewContainer(id: string, record: ContainerRecord, stateFile: StateFile<ContainerRecord>,
  cgroup: Cgroup | undefined, systemd: Systemd | undefined, unit: SystemdUnit | undefined): Promise<void> {
  await stopProcesses(record, id).catch((e) => log.warn(`cleaning up container "${id}": ${(e as Error).message}`));
  if (systemd !== undefined && cgroup !== undefined) {
    await systemd.stopUnit(unit!.name).catch((e) => log.warn(`stopping the systemd unit of container "${id}": ${(e as Error).message}`));
  }
  await cgroup?.remove().catch((e) => log.warn(`removing the cgroup of container "${id}": ${(e as Error).message}`));
  stateFile.destroy();
}

// A new container's record as create (or restore) saves it before any process exists.
export function creatingRecord(id: string, sandboxId: string, bundle: string, spec: Spec): ContainerRecord {
  return {
    version: RECORD_VERSION,
    id,
    sandboxId,
    status: Status.Creating,
    bundle,
    rootfs: path.resolve(bundle, spec.root?.path ?? 'rootfs'),
    created: new Date().toISOString(),
    owner: currentOwner(),
    annotations: spec.annotations ?? {},
    init: null,
    gofer: null,
    user: null,
  };
}

// The create itself: a root's, or a member's while the caller holds its sandbox's lock.
async function createInSandbox(rootDir: string, id: string, bundle: string, spec: Spec, options: CreateOptions,
  membership: SandboxMembership, sandbox: JoinedSandbox | undefined): Promise<ContainerRecord> {
  const stateFile = new StateFile<ContainerRecord>(rootDir, { containerId: id, sandboxId: membership.sandboxId });
  stateFile.lockForNew();
  const record = creatingRecord(id, membership.sandboxId, bundle, spec);
  if (spec.process?.oomScoreAdj !== undefined) record.oomScoreAdj = spec.process.oomScoreAdj;
  let gofer: Gofer | undefined;
  let goferStarting: Promise<Gofer> | undefined;
  let cgroup: Cgroup | undefined;
  // Under --systemd-cgroup: the unit, and the bus it is asked for on (opened before any process).
  let unit: SystemdUnit | undefined;
  let systemd: Systemd | undefined;
  try {
    const rootless = options.rootless ?? isRootless();
    const placement = cgroupPathOf(spec, id, options.systemdCgroup === true, rootless);
    unit = placement.unit;
    if (unit !== undefined) {
      // Rootless, the user's own systemd instance, whose units' cgroups lie below its own.
      systemd = await Systemd.connect(rootless ? 'user' : 'system');
      if (rootless) {
        record.systemdInstance = 'user';
        placement.cgroupPath = path.posix.join(await systemd.managerCgroup(), placement.cgroupPath);
      }
      record.systemdUnit = unit.name;
    }
    record.cgroupPath = placement.cgroupPath;
    record.cgroupLayout = recordLayout(detectLayout());
    stateFile.saveLocked(record);
    const extraFds = (options.preserveFds ?? 0) + (options.listenFds ?? 0);
    const planFd = 3 + extraFds;
    // The sandbox's namespaces follow the plan and report pipes in the gofer.
    const sandboxTypes = (['pid', 'ipc', 'uts', 'network', 'user'] as const).filter((type) => sandbox?.namespaces[type] !== undefined);
    const sandboxFds = sandboxTypes.map((type) => sandbox!.namespaces[type]!);
    // The gofer starts now, and its exec (~2 ms of a new process) overlaps the cgroup and the
    // plan: it only waits for its plan on its pipe. Should create fail before sending one, the
    // pipe's end of file ends it (and so does our own death: nothing is left running).
    const stdio = options.stdio ?? [0, 1, 2];
    goferStarting = Gofer.spawn([...stdio, ...Array.from({ length: extraFds }, (_, i) => 3 + i)], planFd, sandboxFds);
    goferStarting.catch(() => {}); // awaited below, or in the cleanup
    const ours = new Cgroup(detectLayout(), record.cgroupPath);
    ours.assertUnused(); // before it is ours to remove on failure
    if (unit !== undefined) {
      // What the user's instance cannot pass on is refused before it is asked for anything.
      if (rootless) requireDelegated(resourcesOf(spec, rootless), ours.layout.unified!, record.cgroupPath);
    } else if (!rootless) {
      cgroup = ours;
      cgroup.create(containerResources(spec));
      logPhase('create: cgroup made');
    } else {
      cgroup = await rootlessCgroup(ours, spec, id);
      if (cgroup === undefined) {
        delete record.cgroupPath;
        stateFile.saveLocked(record);
      }
    }
    const listenEnv = options.listenFds ? [`LISTEN_FDS=${options.listenFds}`, 'LISTEN_PID=1'] : [];
    // Their numbers in the gofer and the init: after the plan and report pipes, in that order.
    const sandboxPlanFds = Object.fromEntries(sandboxTypes.map((type, i) => [type, planFd + 2 + i])) as unknown as SandboxNamespaces;
    const plan = buildLaunchPlan(spec, {
      bundle,
      cgroupProcs: record.cgroupPath === undefined ? [] : ours.procsFiles(),
      cgroupDirs: record.cgroupPath === undefined ? undefined : ours.hierarchyDirectories(),
      cgroup: record.cgroupPath === undefined ? callerCgroupView(ours.layout) : cgroupViewOf(ours),
      cgroupManager: unit !== undefined,
      consoleSocket: options.consoleSocket === undefined ? undefined : path.resolve(options.consoleSocket),
      extraFds,
      extraEnv: listenEnv,
      files: {
        exit: stateFile.pathOf('exit'),
        exitTmp: stateFile.pathOf('exittmp'),
        gate: stateFile.pathOf('gate'),
        ready: stateFile.pathOf('ready'),
      },
      sandbox: sandbox === undefined ? undefined : sandboxPlanFds,
      unprivileged: process.geteuid!() !== 0,
      inUserNamespace: runningInUserNamespace(),
      idmapHelpers: process.geteuid!() !== 0 ? idmapHelpers() : undefined,
    });
    logPhase('create: launch plan built');
    gofer = await goferStarting;
    logPhase('create: gofer started');
    record.gofer = identityOf(gofer.pid);
    stateFile.saveLocked(record);
    writeProcessIds(stateFile, record);
    gofer.sendPlan(plan);
    // exec reads the container's process and seccomp profile from this copy, whatever becomes of
    // the bundle (runc keeps the config in its state the same way). Written while the init runs
    // its plan; nothing reads it before the commit.
    stateFile.saveSideFileLocked('spec', 'spectmp', JSON.stringify(spec));
    let report = await gofer.nextReport();
    logPhase(`create: gofer reported "${report?.type}"`);
    if (report?.type === 'cgroup' && unit !== undefined) {
      // The init is cloned and waits: systemd puts it in the container's scope (see systemd.ts).
      cgroup = ours; // from here on the unit, and so the cgroup, may exist: remove it on failure
      await startContainerUnit(systemd!, unit, id, report.pid, ours, resourcesOf(spec, rootless));
      gofer.cgroupPlaced();
      report = await gofer.nextReport();
    }
    if (report?.type === 'hooks') {
      // The init waits before pivot_root: run the runtime's hooks now, then hand it the state
      // its createContainer hooks get.
      const state = { ...ociState(record, Status.Creating), pid: report.pid };
      let initState: string;
      try {
        initState = hooksOf(spec.hooks, 'createContainer').length === 0 ? '{}' : nativeHookState('createContainer', state);
        await runHooks('prestart', hooksOf(spec.hooks, 'prestart'), state);
        await runHooks('createRuntime', hooksOf(spec.hooks, 'createRuntime'), state);
      } catch (error) {
        gofer.abort();
        throw new ContainerError('ERR_CREATE_FAILED', `cannot create container "${id}": ${(error as Error).message}`, { containerId: id, cause: error });
      }
      gofer.continueHooks(initState);
      report = await gofer.nextReport();
    }
    if (report?.type !== 'ready') {
      throw new ContainerError('ERR_CREATE_FAILED', report?.type === 'error'
        ? `cannot create container "${id}": ${describeFailure(plan, report.step, report.errno)}`
        : report === undefined
          ? `cannot create container "${id}": its gofer exited without a report`
          : `cannot create container "${id}": its gofer sent "${report.type}" where "ready" was due`, { containerId: id });
    }
    const initPid = report.pid;
    record.init = identityOf(initPid);
    // What the sandbox started with, restored when its last scored member goes: inherited from
    // us, as the gofer's own score is only set below.
    if (membership.isRoot) record.originalOOMScoreAdj = readOOMScore(initPid);
    try {
      adjustGoferOOMScore(record);
    } catch (error) {
      throw new ContainerError('ERR_CREATE_FAILED', `cannot create container "${id}": ${(error as Error).message}`, { containerId: id, cause: error });
    }
    record.status = transition(record.status, Status.Created);
    record.startSteps = startSteps(plan);
    if (spec.hooks !== undefined) record.hooks = spec.hooks;
    stateFile.saveLocked(record);
    writeProcessIds(stateFile, record);
    if (options.pidFile !== undefined) writePidFile(options.pidFile, initPid);
    gofer.commit();
    gofer.detach();
    logPhase('create: committed');
    return record;
  } catch (error) {
    // Whatever this create made goes; nothing else is touched. A gofer not yet recorded has
    // had no plan: closing our ends of its pipes ends it.
    gofer ??= await goferStarting?.catch(() => undefined);
    gofer?.detach();
    await undoNewContainer(id, record, stateFile, cgroup, systemd, unit);
    throw error;
  } finally {
    systemd?.close();
    stateFile.close();
  }
}


/**
 * The container's exit status (exit code, or 128+signal), waiting for it if it still runs.
 * The gofer records it whoever reaps the init, so this answers again and again, until delete.
 */
export async function waitContainer(rootDir: string, partialId: string): Promise<{ id: string; exitStatus: number }> {
  const container = Container.load(rootDir, partialId);
  const stateFile = new StateFile(rootDir, { containerId: container.id, sandboxId: container.sandboxId });
  const exitPath = stateFile.pathOf('exit');
  const { gofer } = container.record;
  if (!fs.existsSync(exitPath) && gofer !== null && isProcessAlive(gofer.pid, gofer.startTime)) {
    await waitForExit(gofer.pid).catch((error) => {
      if (!isErrno(error, 'ESRCH')) throw error;
    });
  }
  const exit = readExitRecord(stateFile);
  if (exit === null) {
    throw new ContainerError('ERR_INVALID_STATE', `the exit status of container "${container.id}" is not known (its gofer is gone)`,
      { containerId: container.id });
  }
  // The init reports the status before it exits, so the gofer may record it (and exit) while
  // the init still runs: wait for the init too, or a `delete` right after `wait` finds the
  // container running and refuses (the library's create/start/wait/delete cycle hit it).
  const { init } = container.record;
  if (init !== null && isProcessAlive(init.pid, init.startTime)) {
    await waitForExit(init.pid).catch((error) => {
      if (!isErrno(error, 'ESRCH')) throw error;
    });
  }
  return { id: container.id, exitStatus: exit.exitStatus };
}

export interface RunningContainer {
  container: Container;
  /**
   * The master of the process's terminal (process.terminal without a console socket): the
   * caller copies between it and its own stdio (cli/terminal.ts) and closes it.
   */
  terminal?: number;
  /** Sends a signal to the container's process (foreground `run` forwards its own). */
  signal(signal: number | string): void;
  /** The exit status; the container is deleted by then. */
  exited: Promise<number>;
}

export interface RunOptions extends CreateOptions {
  /** Keep the container, stopped, once it exits (or fails to start): runc's `run --keep`. */
  keep?: boolean;
  /**
   * The size of a terminal of its own (RunningContainer.terminal), set before the process
   * starts, as runc's foreground run gives it the caller's: process.consoleSize otherwise.
   */
  consoleSize?: { height: number; width: number };
}

/**
 * Creates and starts a container whose init is this process's child, then waits for it to
 * exit, deletes it (unless `keep`) and reports the status: `runc run` in the foreground.
 */
export async function runContainer(rootDir: string, id: string, options: RunOptions): Promise<RunningContainer> {
  const { keep, consoleSize, ...createOptions } = options;
  const ownConsole = new ConsoleReceiver();
  let terminal: number | undefined;
  let started: ContainerRecord;
  try {
    await createRecorded(rootDir, id, createOptions, ownConsole);
    try {
      if (ownConsole.used) terminal = ownConsole.receiveMaster();
      if (terminal !== undefined && consoleSize !== undefined) native.setWindowSize(terminal, consoleSize.height, consoleSize.width);
      started = await startRecorded(rootDir, id);
    } catch (error) {
      if (terminal !== undefined) fs.closeSync(terminal);
      if (keep !== true) await Container.delete(rootDir, id, { force: true });
      throw error;
    }
  } finally {
    ownConsole.close();
  }
  // Start's record as it saved it: its init and user process, not read again.
  const container = Container.saved(rootDir, started);
  const init = container.record.init!;
  const exited = (async () => {
    // The init is our child (the gofer cloned it with CLONE_PARENT): reap it, and take its
    // status, which is the user's process's.
    const status = (await reapChild(init.pid)) ?? (await waitContainer(rootDir, id)).exitStatus;
    if (keep !== true) await Container.delete(rootDir, id, { force: true });
    return status;
  })();
  return {
    container,
    terminal,
    signal: (signal) => {
      const user = container.record.user;
      if (user) signalProcess(user.pid, user.startTime, signal);
    },
    exited,
  };
}

/**
 * New cgroup limits for a running (or created, or paused) container: `runcell update`. New
 * device rules replace the old ones, with the defaults after them as at create.
 */
export function updateContainer(rootDir: string, partialId: string, resources: LinuxResources): Promise<void> {
  return withLockedRecord(rootDir, partialId, async (record) => {
    requireStatus('update', record.id, observedStatus(record), Status.Created, Status.Running, Status.Paused);
    const cgroup = cgroupOf(record, 'update');
    const newDevices = resources.devices !== undefined && resources.devices !== null;
    // New device rules replace the old, with the defaults after them; none given, the old stay.
    const wanted: LinuxResources = { ...resources, devices: newDevices ? containerDeviceRules(resources.devices) : undefined };
    // runc's update: an unlimited memory without a swap limit means both unlimited (v1 would
    // refuse a memory limit above the memory+swap one left in place).
    if (resources.memory?.limit === -1 && (resources.memory.swap === undefined || resources.memory.swap === null)) {
      wanted.memory = { ...resources.memory, swap: -1 };
    }
    // Rootless, what cannot hold in the user's cgroup is refused by name before anything is written.
    if (process.geteuid!() !== 0 || runningInUserNamespace()) {
      if (newDevices) {
        throw new SpecError('linux.resources.devices: device rules cannot be set rootless (a device program or v1\'s devices files ' +
          'need CAP_SYS_ADMIN over the host\'s user namespace; nor can the container make device nodes)');
      }
      if (cgroup.isV2) requireDelegated(wanted, cgroup.layout.unified!, cgroup.cgroupPath, 'linux.resources');
    }
    if (record.systemdUnit !== undefined) await updateContainerUnit(record.systemdUnit, cgroup, wanted, record.systemdInstance);
    else cgroup.apply(wanted);
  });
}

/** The container's resource usage now, and whether it still runs (`runcell events`). */
export function containerStats(rootDir: string, partialId: string): { id: string; running: boolean; stats: Stats } {
  const container = Container.load(rootDir, partialId);
  const status = container.status;
  if (status === Status.Stopped || status === Status.Creating) {
    throw new ContainerError('ERR_INVALID_STATE', `cannot read the stats of container "${container.id}": container not running`, { containerId: container.id });
  }
  return { id: container.id, running: true, stats: cgroupStats(cgroupOf(container.record, 'read')) };
}

/**
 * What a user other than root cannot have, refused before anything exists, naming the field:
 * a container without a user namespace, a mount option giving a file system an owner the
 * container does not map, a lower oom_score_adj than the user's own (the kernel wants
 * CAP_SYS_RESOURCE for that; runc's rootless containers fail on the write).
 */
function refuseUnprivileged(spec: Spec, bundle: string): void {
  const config = path.join(bundle, 'config.json');
  // Every namespace, mount and id change below takes the rights a user namespace gives its
  // owner (runc's rootless validation: "rootless container requires user namespaces").
  if (!(spec.linux?.namespaces ?? []).some((ns) => ns.type === 'user')) {
    throw new SpecError(`${config}: config.linux.namespaces: a user other than root (uid ${process.geteuid!()}) needs a user namespace ` +
      'for the container (runcell spec --rootless writes one)');
  }
  // A filesystem's owner given by a mount option must exist in the container (runc's
  // rootlessEUIDMount): devpts's gid=5 of a root's spec does not when the user alone is mapped.
  (spec.mounts ?? []).forEach((mount, index) => {
    for (const option of mount.options ?? []) {
      const match = /^(uid|gid)=(\d+)$/.exec(option);
      if (match === null) continue;
      const mappings = (match[1] === 'uid' ? spec.linux?.uidMappings : spec.linux?.gidMappings) ?? [];
      const id = Number(match[2]);
      if (mappings.length > 0 && !mappings.some((m) => id >= m.containerID && id < m.containerID + m.size)) {
        throw new SpecError(`${config}: config.mounts[${index}].options: "${option}": ${match[1]} ${id} is not mapped in the container's ` +
          `user namespace (config.linux.${match[1]}Mappings), so a user other than root cannot give it a file system`);
      }
    }
  });
  const wanted = spec.process?.oomScoreAdj;
  if (wanted !== undefined) {
    const current = readOOMScore(process.pid);
    if (wanted < current) {
      throw new SpecError(`${config}: config.process.oomScoreAdj: ${wanted} is below this user's own ` +
        `oom_score_adj (${current}); lowering it needs CAP_SYS_RESOURCE, which a rootless container does not have`);
    }
  }
}

/**
 * The resources written to a container's cgroup. Rootless, device rules are left out but for
 * the host's root (--rootless true): nobody else can set them (v1's devices.deny and a v2 device
 * program need CAP_SYS_ADMIN in the host's user namespace), and a user namespace cannot make
 * device nodes anyway (runc ignores them too).
 */
function resourcesOf(spec: Spec, rootless: boolean): LinuxResources {
  const hostRoot = process.geteuid!() === 0 && !runningInUserNamespace();
  return !rootless || hostRoot ? containerResources(spec) : { ...(spec.linux?.resources ?? {}), devices: undefined } as LinuxResources;
}

/**
 * Rootless without systemd: the container's cgroup if this user may make it, else none. As runc's
 * rootless cgroup manager: an explicit linux.cgroupsPath that cannot be made is an error; the
 * default one is given up, and then a limit in linux.resources is refused, as nothing would
 * enforce it. Device rules: see resourcesOf. On cgroup v2, a limit whose controller is not
 * delegated to the user is refused by name.
 */
async function rootlessCgroup(cgroup: Cgroup, spec: Spec, id: string): Promise<Cgroup | undefined> {
  const resources = resourcesOf(spec, true);
  const explicit = spec.linux?.cgroupsPath !== undefined && spec.linux.cgroupsPath !== '';
  try {
    cgroup.create({});
  } catch (error) {
    if (!isErrno(error, 'EACCES', 'EPERM', 'EROFS')) throw error;
    await cgroup.remove().catch(() => {}); // what was made of it before the refusal
    const why = `uid ${process.geteuid!()} may not create cgroup "${cgroup.cgroupPath}" (${(error as Error).message})`;
    if (explicit) {
      throw new ContainerError('ERR_CREATE_FAILED', `cannot create container "${id}": config.linux.cgroupsPath: rootless, ${why}`, { containerId: id, cause: error });
    }
    const limits = requestedLimits(spec.linux?.resources as LinuxResources | undefined);
    if (limits.length > 0) {
      throw new ContainerError('ERR_CREATE_FAILED', `cannot create container "${id}": config.${limits[0]}` +
        `${limits.length > 1 ? ` (and ${limits.slice(1).map((f) => `config.${f}`).join(', ')})` : ''}: rootless, the container has no cgroup ` +
        `to enforce limits in: ${why}, and no cgroup is delegated to it (runc: "container could not join or create cgroup"); ` +
        'remove the limits, or run it from a cgroup delegated to the user (under systemd: `systemd-run --user`), or use --systemd-cgroup',
      { containerId: id, cause: error });
    }
    log.debug(`container "${id}" runs without a cgroup: ${why}`);
    return undefined;
  }
  // The cgroup is the user's: its limits hold only where their controllers are delegated.
  try {
    if (cgroup.isV2) requireDelegated(resources, cgroup.layout.unified!, cgroup.cgroupPath);
    cgroup.apply(resources);
  } catch (error) {
    await cgroup.remove().catch((e) => log.warn(`removing the cgroup of container "${id}": ${(e as Error).message}`));
    throw error;
  }
  return cgroup;
}

// linux.cgroupsPath: absolute, or relative to the root of the hierarchy; under --systemd-cgroup
// systemd's "slice:prefix:name", whose unit's cgroup it is (a host that cannot is refused here,
// before anything exists).
// Rootless: the unit is the user's instance's (its cgroup relative to that manager's, see
// createInSandbox), and without systemd on cgroup v2 the cgroup goes where the user may make one.
export function cgroupPathOf(spec: Spec, id: string, systemdCgroup: boolean, rootless: boolean): { cgroupPath: string; unit?: SystemdUnit } {
  const given = spec.linux?.cgroupsPath;
  if (systemdCgroup) {
    const unit = rootless ? systemdUnitOf(given, id, ROOTLESS_DEFAULT_SLICE) : systemdUnitOf(given, id);
    requireSystemdHost(detectLayout());
    return { cgroupPath: unit.cgroupPath, unit };
  }
  if (given?.includes(':')) {
    throw new SpecError(`config.json: config.linux.cgroupsPath: "${given}" is a systemd "slice:prefix:name" path, which needs --systemd-cgroup`);
  }
  if (rootless && isPureV2(detectLayout())) return { cgroupPath: delegatedCgroupPath(given, id, fs.readFileSync('/proc/self/cgroup', 'utf8')) };
  if (given === undefined || given === '') return { cgroupPath: `/runcell/${id}` };
  return { cgroupPath: given.startsWith('/') ? given : `/${given}` };
}

// The spec's resources, with the device rules every container gets after the spec's own (a
// "deny all" there must not take /dev/null away), even when the spec names none: a device no
// rule allows is denied, as with runc. A node of linux.devices is created, not allowed: its rule
// is linux.resources.devices's to give, as with runc (engines write both).
export function containerResources(spec: Spec, resources = (spec.linux?.resources ?? {}) as LinuxResources): LinuxResources {
  return { ...resources, devices: containerDeviceRules(resources.devices) };
}


function startSteps(plan: LaunchPlan): Record<string, string> {
  const steps: Record<string, string> = {};
  plan.ops.forEach((op, index) => {
    if (op.op.startsWith('u-')) steps[index] = op.description;
  });
  return steps;
}

// The gofer's record of the exit status; one that is not ours alone to write says nothing.
function readExitRecord(stateFile: StateFile): ExitRecord | null {
  let text: string | null;
  try {
    text = stateFile.readSideFile('exit');
  } catch (error) {
    if (!(error instanceof UntrustedFileError)) throw error;
    log.warn(`ignoring the exit record '${error.path}': ${error.message}`);
    return null;
  }
  return text === null ? null : parseExitRecord(text);
}

// The processes and the cgroup of the container, also outside its state file: if that is ever
// damaged, `delete --force` still finds what to stop and remove (see Container.delete).
export function writeProcessIds(stateFile: StateFile<ContainerRecord>, record: ContainerRecord): void {
  // Its temp file is one of the container's own files: a crash between write and rename leaves
  // nothing delete cannot find.
  const ids: RecordedProcesses = {
    gofer: record.gofer, init: record.init, cgroupPath: record.cgroupPath, systemdUnit: record.systemdUnit, systemdInstance: record.systemdInstance,
  };
  stateFile.saveSideFileLocked('pids', 'pidstmp', JSON.stringify(ids));
}
