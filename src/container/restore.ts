// `runcell restore`: a new container from a checkpoint's images (checkpoint.ts).
//
// The checkpoint holds the user's process tree alone (CRIU cannot dump the nested pid
// namespaces of init and process), so the restored container gets a new init of another kind:
// runcell-init's reaper (native/init/main.c, run_reaper), cloned by a gofer as at create, with
// the calling CLI as its parent (conmon and containerd's shim adopt it), put in the container's
// new cgroup, and a child subreaper. It starts `criu swrk`, which this process drives over a
// socket pair, and CRIU restores the tree as its own sibling (rst_sibling): the reaper's child.
// The reaper reaps it and reports its status to the gofer, which records it (`<id>.exit`), as
// the init does: state, wait, kill, exec and delete work as for any container.
//
// Why not the container's init as that parent: the init lives in the container's pid namespace
// and mount namespace, where neither CRIU nor the image directory is, and CRIU restores the
// process's pid namespace as a child of its own. The reaper lives on the host side; what it
// lacks against an init is the container's namespaces (the state's pid names it, so
// `nsenter -t PID` enters the host's): `exec` and `ps` go by the restored process's.
//
// Crash safety is create's: the state is saved as `creating` before any process exists, the
// gofer keeps the reaper only once the state names it and the restored process and the CLI
// has said "commit"; whatever a failed or killed restore left is in the container's cgroup,
// which the state names, so `delete --force` removes it.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadSpec, SpecError, type Spec } from '../oci/spec';
import { log } from '../log';
import { Cgroup, detectLayout } from './cgroups';
import { startContainerUnit, Systemd, type SystemdUnit } from './systemd';
import { Container } from './container';
import { criuLogErrors, CriuSession, locateCriu, ReqType } from './criu';
import { criuFlagOptions, openDirectory, type CriuFlags } from './checkpoint';
import { EXTERNAL_NETNS_KEY, parseMountInfo, readDescription, type CheckpointDescription } from './checkpoint-image';
import { ContainerError } from './errors';
import { Gofer } from './gofer';
import { initExecutable } from './init-binary';
import { ErrnoError } from '../sys/errno';
import { native } from '../sys/native';
import { isProcessAlive } from '../sys/process';
import { cgroupPathOf, containerResources, creatingRecord, identityOf, undoNewContainer, writeProcessIds } from './lifecycle';
import { describeFailure, type LaunchPlan, type PlanOp } from './launch-plan';
import { writePidFile } from './pid-file';
import { type ContainerRecord } from './record';
import { membershipOf } from './sandbox';
import { StateFile } from './state-file';
import { Status, transition } from './status';

export interface RestoreOptions extends CriuFlags {
  /** The checkpoint's images (--image-path). */
  imagePath: string;
  /** The bundle of the restored container (config.json, its root filesystem). */
  bundle: string;
  /** Write the container's pid (its reaper's) here. */
  pidFile?: string;
  /** The container's stdin, stdout and stderr: this process's own by default. */
  stdio?: [number, number, number];
  /** For a checkpoint with a terminal: the unix socket the restored terminal's new master is sent to. */
  consoleSocket?: string;
  /** The systemd cgroup driver (--systemd-cgroup): the cgroup is a transient scope, as at create. */
  systemdCgroup?: boolean;
}

/** Restores the checkpoint in `options.imagePath` as a new, running container `id`. */
export async function restoreContainer(rootDir: string, id: string, options: RestoreOptions): Promise<Container> {
  const bundle = path.resolve(options.bundle);
  const spec = loadSpec(bundle);
  const configFile = path.join(bundle, 'config.json');
  const fail = (why: string, cause?: unknown) =>
    new ContainerError('ERR_RESTORE_FAILED', `cannot restore container "${id}": ${why}`, { containerId: id, cause });
  const flagOpts = criuFlagOptions(options, 'restore');
  if (options.manageCgroupsMode === 'ignore' && (spec.linux?.namespaces ?? []).some((ns) => ns.type === 'cgroup')) {
    throw new SpecError(`${configFile}: config.linux.namespaces: --manage-cgroups-mode ignore would restore the process in the host's ` +
      'cgroup namespace, not the container\'s own');
  }
  if (process.geteuid!() !== 0) throw fail('restoring needs root (CRIU restores namespaces and mounts): not available rootless');
  const membership = membershipOf(id, spec.annotations);
  if (!membership.isRoot || membership.isCriSandbox) {
    throw fail('a container of a sandbox (CRI annotations) cannot be restored: sandboxes are never checkpointed (see checkpoint.ts)');
  }
  let description: CheckpointDescription;
  try {
    description = readDescription(options.imagePath);
  } catch (error) {
    throw fail((error as Error).message, error);
  }
  // A terminal's checkpoint needs a console socket, one without a terminal refuses it. runc
  // decides by config.process.terminal; the checkpoint is what knows whether a pty is restored.
  if (description.terminal === true && options.consoleSocket === undefined) {
    throw fail('the checkpoint holds a terminal: give --console-socket for its new master');
  }
  if (description.terminal !== true && options.consoleSocket !== undefined) {
    throw fail('--console-socket: the checkpoint holds no terminal to send');
  }
  if (description.terminal !== true && spec.process?.terminal === true) {
    throw new SpecError(`${configFile}: config.process.terminal: the checkpoint holds no terminal; leave process.terminal out`);
  }
  const criu = await locateCriu(options.criu);

  const stateFile = new StateFile<ContainerRecord>(rootDir, { containerId: id, sandboxId: id });
  stateFile.lockForNew();
  const record = creatingRecord(id, id, bundle, spec);
  let gofer: Gofer | undefined;
  let cgroup: Cgroup | undefined;
  let session: CriuSession | undefined;
  // Under --systemd-cgroup: the unit, and the bus it is asked for on.
  let unit: SystemdUnit | undefined;
  let systemd: Systemd | undefined;
  const fds: number[] = [];
  let yard: ReturnType<typeof cgroupYard> | undefined;
  try {
    // Root only (refused above): never the rootless placement.
    const placement = cgroupPathOf(spec, id, options.systemdCgroup === true, false);
    record.cgroupPath = placement.cgroupPath;
    unit = placement.unit;
    if (unit !== undefined) record.systemdUnit = unit.name;
    stateFile.saveLocked(record);
    const ours = new Cgroup(detectLayout(), record.cgroupPath);
    ours.assertUnused();
    if (unit !== undefined) {
      systemd = await Systemd.connect();
    } else {
      cgroup = ours;
      cgroup.create(containerResources(spec));
    }
    stateFile.saveSideFileLocked('spec', 'spectmp', JSON.stringify(spec));

    makeMountPoints(record.rootfs, spec, description);
    const external = description.mounts.map((mount) => `mnt[${mount.destination}]:${mountSource(mount, spec, bundle, record.cgroupPath!, configFile)}`);
    const netns = externalNetwork(spec, description, configFile);
    const pair = CriuSession.pair();
    session = pair.session;
    fds.push(pair.peerFd);
    if (netns !== undefined) fds.push(fs.openSync(netns, fs.constants.O_RDONLY));
    // In the gofer (and the reaper, and criu): 0-2 the container's stdio, 3 and 4 the plan and
    // report pipes, then criu's socket and the network namespace.
    const planFd = 3;
    const criuFd = planFd + 2;
    const plan: LaunchPlan = { ops: [] };
    const add = (op: string, args: Array<string | number>, description: string) =>
      plan.ops.push({ op, args: args.map(String), description } satisfies PlanOp);
    add('g-files', [stateFile.pathOf('exit'), stateFile.pathOf('exittmp'), stateFile.pathOf('gate'), stateFile.pathOf('ready')], 'prepare the container\'s files');
    add('g-mkfifo', [stateFile.pathOf('gate')], `create "${stateFile.pathOf('gate')}"`);
    add('g-mkfifo', [stateFile.pathOf('ready')], `create "${stateFile.pathOf('ready')}"`);
    add('g-clone', [0], 'clone the reaper');
    if (unit !== undefined) add('g-cgroup-manager', [], 'wait for systemd to place the reaper');
    for (const procs of ours.procsFiles()) add('g-cgroup', [procs], `join the cgroup "${path.dirname(procs)}"`);
    yard = cgroupYard(options.workPath ?? options.imagePath);
    add('g-restore-yard', [yard.yard, ...yard.binds], `mount a cgroup yard for CRIU on "${yard.yard}"`);
    add('g-restore', [criu.path, criuFd, process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...fds.slice(1).map((_, i) => criuFd + 1 + i)],
      `start CRIU "${criu.path}"`);

    gofer = await Gofer.spawn([...(options.stdio ?? [0, 1, 2])], planFd, fds);
    for (const fd of fds.splice(0)) fs.closeSync(fd); // theirs now
    record.gofer = identityOf(gofer.pid);
    stateFile.saveLocked(record);
    writeProcessIds(stateFile, record);
    gofer.sendPlan(plan);
    let report = await gofer.nextReport();
    if (report?.type === 'cgroup' && unit !== undefined) {
      // The reaper is cloned and waits: systemd puts it in the container's scope (systemd.ts).
      cgroup = ours; // from here on the unit, and so the cgroup, may exist: remove it on failure
      await startContainerUnit(systemd!, unit, id, report.pid, ours, containerResources(spec));
      gofer.cgroupPlaced();
      report = await gofer.nextReport();
    }
    if (report?.type !== 'ready') {
      throw fail(report?.type === 'error'
        ? describeFailure(plan, report.step, report.errno)
        : report === undefined ? 'its gofer exited without a report' : `its gofer sent "${report.type}" where "ready" was due`);
    }
    record.init = identityOf(report.pid);
    stateFile.saveLocked(record);
    writeProcessIds(stateFile, record);

    const imagesDirFd = openDirectory(options.imagePath, '--image-path');
    fds.push(imagesDirFd);
    const workDirFd = options.workPath === undefined ? undefined : openDirectory(options.workPath, '--work-path');
    if (workDirFd !== undefined) fds.push(workDirFd);
    // Each descriptor the process had from outside, replaced by ours (criu's 0-2 are the
    // container's stdio); two of one pipe are one key, inherited once.
    const inheritFd: Array<{ key: string; fd: number }> = [];
    description.stdio.forEach((key, fd) => {
      if (key !== null && !inheritFd.some((i) => i.key === key)) inheritFd.push({ key, fd });
    });
    if (netns !== undefined) inheritFd.push({ key: EXTERNAL_NETNS_KEY, fd: criuFd + 1 });
    // CRIU binds the root writable: at post-restore (the tree made, not yet resumed) it is
    // made read-only for root.readonly, as at create (runc's restored root stays writable).
    const onNotify = async (script: string, pid: number | undefined, fd: number | undefined) => {
      if (script === 'orphan-pts-master') {
        // The restored terminal's new master (runc's): to the caller's console socket.
        if (fd === undefined) throw new Error('CRIU\'s orphan-pts-master notification carries no descriptor');
        sendConsole(options.consoleSocket!, fd);
      }
      if (script === 'post-restore' && spec.root?.readonly === true) {
        if (pid === undefined) throw new Error('CRIU\'s post-restore notification names no process');
        await rootReadonly(pid);
      }
    };
    const response = await session.request(ReqType.Restore, {
      ...flagOpts,
      imagesDirFd,
      workDirFd,
      root: record.rootfs,
      rstSibling: true,
      // The reaper is in the container's new cgroup, and CRIU with it; the image's cgroups are
      // placed under that one (cg_root, as runc), which also roots a cgroup namespace there
      // (with "ignore" CRIU leaves the tree in the host's cgroup namespace: refused above).
      manageCgroupsMode: options.manageCgroupsMode ?? 'soft',
      cgRoot: [{ path: record.cgroupPath }],
      inheritFd,
      external,
      logLevel: 4,
      logFile: 'restore.log',
      configFile: yard.configFile,
      orphanPtsMaster: description.terminal,
    }, onNotify);
    if (!response.success || response.restoredPid === undefined) {
      const logFile = path.join(options.workPath ?? options.imagePath, 'restore.log');
      const why = criuLogErrors(logFile) ?? response.errmsg;
      throw fail(`criu restore failed${why ? `: ${why}` : ''}; see ${logFile}`);
    }
    await session.close();
    record.user = identityOf(response.restoredPid);
    record.status = transition(transition(record.status, Status.Created), Status.Running);
    stateFile.saveLocked(record);
    writeProcessIds(stateFile, record);
    if (options.pidFile !== undefined) writePidFile(options.pidFile, record.init.pid);
    await gofer.commit();
    gofer.detach();
  } catch (error) {
    gofer?.detach();
    await session?.close().catch(() => {});
    // The restored tree, if CRIU made one, is in the cgroup, not among the recorded processes.
    await cgroup?.signalAll('SIGKILL').catch((e) => log.warn(`killing what the restore of "${id}" left: ${(e as Error).message}`));
    await undoNewContainer(id, record, stateFile, cgroup, systemd, unit);
    throw error;
  } finally {
    for (const fd of fds) fs.closeSync(fd);
    if (yard !== undefined) fs.rmSync(yard.dir, { recursive: true, force: true });
    systemd?.close();
    stateFile.close();
  }
  return Container.load(rootDir, id);
}

/**
 * Where an external mount of the image is bound from now: a bind mount from the restoring
 * bundle's source for that destination (as runc), a cgroup view from the new container's
 * cgroup in a hierarchy this host has mounted (the image only names it: it is checked here).
 */
function mountSource(mount: CheckpointDescription['mounts'][number], spec: Spec, bundle: string, cgroupPath: string, configFile: string): string {
  if (mount.kind === 'bind') {
    const index = (spec.mounts ?? []).findIndex((m) => path.posix.normalize(m.destination) === mount.destination);
    const source = spec.mounts?.[index]?.source;
    if (source === undefined) {
      throw new SpecError(`${configFile}: config.mounts: the checkpoint has a bind mount on "${mount.destination}", which the config does not`);
    }
    return path.resolve(bundle, source);
  }
  const host = parseMountInfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  if (!host.some((m) => m.mountPoint === mount.hierarchy && m.root === '/' && (m.fsType === 'cgroup' || m.fsType === 'cgroup2'))) {
    throw new Error(`the checkpoint's mount "${mount.destination}" shows the cgroup hierarchy "${mount.hierarchy}", which this host has not mounted`);
  }
  return path.join(mount.hierarchy, cgroupPath);
}

/**
 * CRIU mounts the image's mounts on their mount points in the root, which a new bundle's root
 * filesystem may lack (the init made them at create): the bind mounts' are made, as runc's
 * restore does, a directory or an empty file as the source is. The root is hostile: each
 * component is looked at without following it, and a symlink is refused rather than entered.
 */
function makeMountPoints(rootfs: string, spec: Spec, description: CheckpointDescription): void {
  for (const mount of description.mounts) {
    if (mount.kind !== 'bind') continue;
    const source = (spec.mounts ?? []).find((m) => path.posix.normalize(m.destination) === mount.destination)?.source;
    const parts = mount.destination.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw new Error(`the checkpoint's mount point "${mount.destination}" climbs out of the root`);
    let current = rootfs;
    for (const [i, part] of parts.entries()) {
      current = path.join(current, part);
      let stat: fs.Stats | undefined;
      try {
        stat = fs.lstatSync(current);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      if (stat?.isSymbolicLink()) {
        throw new Error(`the mount point "${mount.destination}" passes through a symlink in the root filesystem ("${current}"): refused`);
      }
      if (stat !== undefined) continue;
      const last = i === parts.length - 1;
      const file = last && source !== undefined && fs.existsSync(source) && !fs.statSync(source).isDirectory();
      if (file) fs.closeSync(fs.openSync(current, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW, 0o644));
      else fs.mkdirSync(current, 0o755);
    }
  }
}

// The terminal's master to the console socket. The payload is runc's (the name it gives CRIU's
// descriptor): conmon and containerd's shim read none.
function sendConsole(socketPath: string, master: number): void {
  try {
    native.sendFdTo(socketPath, 'orphan-pts-master', master);
  } catch (error) {
    throw new Error(`sending the restored terminal to the console socket "${socketPath}": ${(error as Error).message}`);
  }
}

// runcell-init root-readonly PID: the root mount of PID's mount namespace made read-only.
async function rootReadonly(pid: number): Promise<void> {
  const init = initExecutable();
  const status = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(init.file, ['root-readonly', String(pid)], { argv0: init.argv0, stdio: 'ignore', env: {} });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
  if (status !== 0) {
    const errno = status ?? 0;
    throw new Error(`making the restored root read-only (root.readonly): ${errno > 0 ? new ErrnoError(errno, 'mount_setattr').code : `status ${status}`}`);
  }
}

/**
 * A cgroup yard for CRIU (--cgroup-yard, through a configuration file: CRIU 3.17's RPC has no
 * field for it): a directory `yard` the reaper mounts a tmpfs on in its own mount namespace,
 * with each hierarchy this process is in bound under the name CRIU gives it ("cpu,cpuacct",
 * "systemd" for name=systemd, "unified" for v2). Given one, CRIU mounts none in the host's
 * mount namespace (see run_reaper). The directory, in the work directory beside CRIU's log,
 * goes after the restore. A CLI killed half-way cannot remove its own: the directory's name
 * holds the CLI's pid and start time, and a restore into the same work directory removes
 * those whose CLI is gone (on the host they hold an empty `yard` and the file; the tmpfs was
 * only ever in the reaper's mount namespace). A live restore's is left alone.
 */
function cgroupYard(workDir: string): { dir: string; yard: string; configFile: string; binds: string[] } {
  const mounts = parseMountInfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')).filter((m) => m.root === '/');
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  removeAbandonedYards(workDir);
  const self = identityOf(process.pid);
  const dir = fs.mkdtempSync(path.join(workDir, `${YARD_PREFIX}${self.pid}.${self.startTime}-`));
  const yard = path.join(dir, 'yard');
  const binds: string[] = [];
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const match = /^\d+:([^:]*):/.exec(line);
    if (match === null) continue;
    const controllers = match[1];
    const mount = controllers === ''
      ? mounts.find((m) => m.fsType === 'cgroup2')
      : mounts.find((m) => m.fsType === 'cgroup' && controllers.split(',').every((c) => m.superOptions.includes(c)));
    if (mount === undefined) continue; // not mounted here: CRIU reports what it misses
    binds.push(controllers === '' ? 'unified' : controllers.replace(/^name=/, ''), mount.mountPoint);
  }
  fs.mkdirSync(yard, 0o700);
  const configFile = path.join(dir, 'criu.conf');
  fs.writeFileSync(configFile, `cgroup-yard ${yard}\n`, { mode: 0o600 });
  return { dir, yard, configFile, binds };
}

const YARD_PREFIX = '.runcell-cgyard-';
/** `.runcell-cgyard-<CLI pid>.<its start time>-<mkdtemp's suffix>` */
const YARD_NAME = /^\.runcell-cgyard-(\d+)\.(\d+)-[A-Za-z0-9]{6}$/;

// The yards of killed restores (see cgroupYard): their CLI, named by pid and start time, is gone.
function removeAbandonedYards(workDir: string): void {
  for (const entry of fs.readdirSync(workDir, { withFileTypes: true })) {
    const owner = YARD_NAME.exec(entry.name);
    if (owner === null || !entry.isDirectory() || isProcessAlive(Number(owner[1]), Number(owner[2]))) continue;
    try {
      fs.rmSync(path.join(workDir, entry.name), { recursive: true, force: true });
    } catch (error) {
      log.warn(`removing "${path.join(workDir, entry.name)}", left by a killed restore: ${(error as Error).message}`);
    }
  }
}

// A network namespace the checkpoint left out (joined by path): the config must name one again.
function externalNetwork(spec: Spec, description: CheckpointDescription, configFile: string): string | undefined {
  const index = (spec.linux?.namespaces ?? []).findIndex((ns) => ns.type === 'network');
  const nsPath = index < 0 ? undefined : spec.linux!.namespaces![index].path;
  if (description.externalNetwork && !nsPath) {
    throw new SpecError(`${configFile}: config.linux.namespaces: the checkpoint joined a network namespace by path; the config must name one to join`);
  }
  if (!description.externalNetwork && nsPath) {
    throw new SpecError(`${configFile}: config.linux.namespaces[${index}].path: the checkpoint has a network namespace of its own, ` +
      `so "${nsPath}" cannot be joined`);
  }
  return nsPath || undefined;
}
