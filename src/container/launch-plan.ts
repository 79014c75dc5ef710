// The launch plan: config.json turned into a flat list of steps that native/init executes
// one system call at a time. Every decision is here (what to mount where, in which order, in
// which process); the interpreter only runs the steps and reports the index and errno of one
// that fails, which describeFailure() turns into `mount "proc" on "/proc": EPERM (...)`.
//
// Phases, by the first letter of each op: g (the gofer, host side), i (the init, before the
// start gate), p (the user's process before the gate, at the init's request: it is started
// early, see i-user-clone), u (the user's process, after the gate, in its own pid namespace
// if nested).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { log } from '../log';
import { ErrnoError } from '../sys/errno';
import { RLIMITS, SpecError, type Personality, type Process, type Spec } from '../oci/spec';
import type { CgroupView } from './cgroup-view';
import { afterPivotOps, rootfsOps } from './rootfs-plan';
import { compileSeccomp, containerProcessState, type CompiledSeccomp, type SeccompProfile } from './seccomp';
import { hookArgs, hooksOf } from './hooks';
import { sysctlFiles } from './sysctl';
import { labelOps, mountLabelOf } from './lsm';
import { stepFailure } from './step-failure';

export { stepFailure } from './step-failure';

export interface PlanOp {
  op: string;
  args: string[];
  /** What the step does, for error messages: `mount "proc" on "/proc"`. */
  description: string;
  /** What an errno means for this step, where the errno alone would not say (`ENODEV`: ...). */
  hints?: Record<string, string>;
}

export interface LaunchPlan {
  ops: PlanOp[];
}

export interface PlanFiles {
  exit: string;
  exitTmp: string;
  gate: string;
  ready: string;
}

export interface PlanOptions {
  bundle: string;
  /** The cgroup.procs files the init is written into before it runs anything. */
  cgroupProcs?: string[];
  /**
   * The same cgroup's directories (its cgroup2 one, its v1 ones), for the faster way in where
   * it applies (see cgroupJoinOps); cgroupProcs where it does not.
   */
  cgroupDirs?: { unified: string | null; v1: string[] };
  /** The container's cgroup, which a cgroup mount of config.mounts shows (cgroupViewOf). */
  cgroup?: CgroupView;
  /**
   * A cgroup manager (systemd) places the init first: the gofer reports the new init's pid
   * (`cgroup PID`) and waits for `cgroup` before it writes cgroupProcs and lets the init run.
   */
  cgroupManager?: boolean;
  /** Where to send the terminal's master (--console-socket), for process.terminal. */
  consoleSocket?: string;
  files: PlanFiles;
  /** Descriptors after stdio that the container keeps (--preserve-fds and LISTEN_FDS). */
  extraFds: number;
  /** Extra environment for the process (LISTEN_FDS/LISTEN_PID). */
  extraEnv?: string[];
  /** For a subcontainer: its sandbox's namespaces, which it joins where its spec is silent. */
  sandbox?: SandboxNamespaces;
  /**
   * The caller is not root (its euid is not 0): it has no CAP_SETGID over the host's user
   * namespace, so the kernel takes the gid map of a new user namespace only after "deny" is
   * written to its setgroups file (user_namespaces(7)), and the container's processes can then
   * never call setgroups (runc: its nsexec's SETGROUPS_DENY for a rootless euid).
   */
  unprivileged?: boolean;
  /**
   * For a caller who is not root: the setuid helpers that write maps beyond its own id
   * (newuidmap and newgidmap, from shadow's uidmap), where they are installed.
   */
  idmapHelpers?: { uid?: string; gid?: string };
  /**
   * runcell itself runs in a user namespace other than the host's (rootless podman runs its
   * runtime as root of one): as in a new one, devices are bound and /sys is bound without a
   * network namespace of the container's own (runc: RunningInUserNS).
   */
  inUserNamespace?: boolean;
}

/**
 * Descriptors of a sandbox's namespaces (those of its root container's init), open in the
 * gofer and inherited by the init: opened and checked against the init's start time by the
 * caller, so a reused pid can never hand us a stranger's namespaces.
 */
export interface SandboxNamespaces {
  pid: number;
  /** Absent: the caller's own, where the init is already (a rootless sandbox sharing the host's). */
  ipc?: number;
  uts?: number;
  network?: number;
  /**
   * A rootless sandbox's user namespace: the gofer joins it before the pid namespace (see
   * sandbox.ts), and the subcontainer's spec's new user namespace is this one (same maps).
   */
  user?: number;
}

/** A namespace to enter by descriptor (exec). */
export interface NamespaceFd {
  type: NamespaceType;
  fd: number;
}

export type NamespaceType = keyof typeof CLONE;

const CLONE = {
  mount: 0x00020000, cgroup: 0x02000000, uts: 0x04000000, ipc: 0x08000000,
  user: 0x10000000, pid: 0x20000000, network: 0x40000000, time: 0x00000080,
} as const;

/** The namespace types a container may have (not time: its offsets are not implemented). */
export const SUPPORTED_NAMESPACES: readonly NamespaceType[] = (Object.keys(CLONE) as NamespaceType[]).filter((type) => type !== 'time');

export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const RAMFS_MAGIC = 0x858458f6;

export function buildLaunchPlan(spec: Spec, options: PlanOptions): LaunchPlan {
  const ops: PlanOp[] = [];
  const add = (op: string, args: Array<string | number>, description: string) =>
    ops.push({ op, args: args.map(String), description });
  const proc = spec.process;
  if (proc === undefined || proc.args === undefined) throw new SpecError('config.json: config.process.args: is required to run a container');
  if (spec.root === undefined) throw new SpecError('config.json: config.root: is required');
  const rootfs = path.resolve(options.bundle, spec.root.path);
  if (!fs.statSync(rootfs, { throwIfNoEntry: false })?.isDirectory()) {
    throw new SpecError(`config.json: config.root.path: "${rootfs}" is not a directory`);
  }
  const namespaces = new Map((spec.linux?.namespaces ?? []).map((ns) => [ns.type, ns.path]));
  for (const type of namespaces.keys()) {
    if (!SUPPORTED_NAMESPACES.includes(type as NamespaceType)) throw new SpecError(`config.json: config.linux.namespaces: ${type} namespaces are not supported`);
  }
  // No mount namespace entry: the container shares the caller's, so it gets no mounts of its
  // own (runc would make them, and set "/" rslave, in the host's namespace: they would outlive
  // the container there), only a chroot to its root filesystem.
  const sharedMountNs = !namespaces.has('mount');
  if (sharedMountNs) {
    const needs = (what: string, present: boolean) => {
      if (present) throw new SpecError(`config.json: ${what}: needs a mount namespace of the container's own (config.linux.namespaces has no "mount" entry)`);
    };
    needs('config.mounts', (spec.mounts ?? []).length > 0);
    needs('config.linux.maskedPaths', (spec.linux?.maskedPaths ?? []).length > 0);
    needs('config.linux.readonlyPaths', (spec.linux?.readonlyPaths ?? []).length > 0);
    needs('config.linux.devices', (spec.linux?.devices ?? []).length > 0);
    needs('config.linux.rootfsPropagation', spec.linux?.rootfsPropagation !== undefined);
    needs('config.root.readonly', spec.root.readonly === true);
  }
  // A rootless subcontainer's "new" user namespace is its sandbox's, already mapped.
  const joinsSandboxUserNs = options.sandbox?.user !== undefined;
  if (joinsSandboxUserNs && (!namespaces.has('user') || namespaces.get('user') !== undefined)) {
    throw new SpecError('config.json: config.linux.namespaces: a rootless subcontainer joins its sandbox\'s user namespace: ' +
      'it needs a "user" entry without a path');
  }
  const newUserNs = namespaces.has('user') && namespaces.get('user') === undefined && !joinsSandboxUserNs;
  const newPidNs = namespaces.has('pid') && namespaces.get('pid') === undefined;
  const { sandbox } = options;
  const seccomp = spec.linux?.seccomp === undefined ? undefined : compileSeccomp(spec.linux.seccomp as unknown as SeccompProfile);

  // The gofer: files it writes, and how it clones the init.
  const { files } = options;
  add('g-files', [files.exit, files.exitTmp, files.gate, files.ready], 'prepare the container\'s files');
  add('g-mkfifo', [files.gate], `create the start gate "${files.gate}"`);
  add('g-mkfifo', [files.ready], `create "${files.ready}"`);
  // A subcontainer's init lives in its sandbox's pid namespace, whatever its spec says of
  // pid (that is for its user's process), so the sandbox ends when the sandbox's init does.
  if (joinsSandboxUserNs) add('g-join-user', [`/proc/self/fd/${sandbox!.user}`], 'join the sandbox\'s user namespace');
  if (sandbox !== undefined) add('g-join-pid', [`/proc/self/fd/${sandbox.pid}`], 'join the sandbox\'s pid namespace');
  else if (namespaces.has('pid') && !newPidNs) add('g-join-pid', [namespaces.get('pid')!], `join the pid namespace "${namespaces.get('pid')}"`);
  add('g-clone', [(newUserNs ? CLONE.user : 0) | (newPidNs && sandbox === undefined ? CLONE.pid : 0)], 'clone the init');
  if (options.cgroupManager) add('g-cgroup-manager', [], 'wait for the cgroup manager to place the init');
  // How the init gets into its cgroup before it runs anything. Another process writing its pid
  // to a cgroup.procs file takes the kernel's threadgroup lock for writing, and with it an RCU
  // grace period (~10 ms on this host, in every create; runc pays it too). The init is cloned
  // straight into its cgroup2 directory instead (CLONE_INTO_CGROUP), and joins each v1 one by
  // writing 0, "this thread", to its tasks file: the kernel elides the lock for a thread
  // moving itself. Its first steps, before it unshares or joins any namespace. Not when a
  // cgroup manager places it, nor in a user namespace of its own (the host's cgroup files are
  // not its to write).
  const selfJoin = options.cgroupDirs !== undefined && !options.cgroupManager && !newUserNs && !joinsSandboxUserNs;
  if (selfJoin && options.cgroupDirs!.unified !== null) {
    const dir = options.cgroupDirs!.unified;
    add('g-clone-into', [dir], `start the init in the cgroup "${dir}"`);
  }
  if (!selfJoin) for (const procs of options.cgroupProcs ?? []) add('g-cgroup', [procs], `join the cgroup "${path.dirname(procs)}"`);
  if (options.consoleSocket !== undefined) add('g-console', [options.consoleSocket], `send the terminal to the console socket "${options.consoleSocket}"`);
  if (newUserNs) ops.push(...idMapOps(spec, options));
  if (selfJoin) for (const dir of options.cgroupDirs!.v1) add('i-write', [path.join(dir, 'tasks'), 0], `join the cgroup "${dir}"`);

  // The init: namespaces (a joined user namespace first: it grants the rights for the rest).
  // A mount namespace joined by path gets the same root filesystem set-up as a new one, as
  // with runc: the root is bound and pivoted to there.
  const joinOrder = ['user', 'ipc', 'uts', 'network', 'cgroup', 'mount'] as const;
  for (const type of joinOrder) {
    const nsPath = namespaces.get(type);
    if (namespaces.has(type) && nsPath !== undefined) add('i-setns', [nsPath, CLONE[type]], `join the ${type} namespace "${nsPath}"`);
  }
  if (sandbox !== undefined) {
    // "Namespaces that a subcontainer's spec leaves out are the sandbox's."
    for (const type of ['ipc', 'uts', 'network'] as const) {
      if (!namespaces.has(type) && sandbox[type] !== undefined) add('i-setns-fd', [sandbox[type]!, CLONE[type]], `join the sandbox's ${type} namespace`);
    }
    // Its user's process: in a pid namespace named by path, else nested or the sandbox's own.
    const pidPath = namespaces.get('pid');
    if (pidPath !== undefined) add('i-setns', [pidPath, CLONE.pid], `join the pid namespace "${pidPath}"`);
    const fds = [sandbox.pid, sandbox.ipc, sandbox.uts, sandbox.network, sandbox.user].filter((fd) => fd !== undefined);
    add('i-close', fds, 'close the sandbox\'s namespaces');
  }
  let unshare = 0;
  for (const type of ['mount', 'ipc', 'uts', 'network', 'cgroup'] as const) {
    if (namespaces.has(type) && namespaces.get(type) === undefined) unshare |= CLONE[type];
  }
  if (namespaces.has('user')) {
    // Until now the init is the host's root, which the maps need not cover: files it made
    // would have no owner in the container (EOVERFLOW). Become the namespace's root: the uid
    // before the namespaces are made, the gid after, as runc does (its nsexec), so that the
    // ipc namespace's mqueue shows the same owner (root, and the unmapped gid: nogroup).
    add('i-setuid', [0], 'become root of the user namespace (uid)');
  }
  add('i-unshare', [unshare], 'create the namespaces');
  if (namespaces.has('user')) add('i-setgid', [0], 'become root of the user namespace (gid)');
  // A new network namespace has its loopback up, as runc and crun set it: podman's
  // `--network none` and the pods of one rely on 127.0.0.1.
  if ((unshare & CLONE.network) !== 0) add('i-link-up', ['lo'], 'set the loopback interface "lo" up');

  // The root filesystem, in the init's new mount namespace. The user's process is started
  // first (and waits for the start gate): it mounts the procfs of config.mounts, in their
  // order, since a procfs shows the pid namespace of its mounter, and the user's own nested
  // one exists only once the user's process does. (Deferring /proc and what follows it to the
  // user's process after the gate would move mount failures from create to start, after the
  // createContainer hooks; mounting procfs from the init would show the sandbox's namespace.)
  const userClone = { op: 'i-user-clone', args: [String(newPidNs ? CLONE.pid : 0)], description: 'start the process' };
  const settings = namespaceSettingOps(spec, namespaces, sandbox !== undefined);
  if (sharedMountNs) {
    ops.push({ op: 'i-open-root', args: [rootfs], description: `open the root filesystem "${rootfs}"` }, userClone, ...settings);
  } else {
    const newCgroupNs = namespaces.has('cgroup') && namespaces.get('cgroup') === undefined;
    const mountLabel = mountLabelOf(spec.linux?.mountLabel, 'config.json: config.linux');
    const inUserNs = newUserNs || joinsSandboxUserNs || options.inUserNamespace === true;
    const sysfsBound = inUserNs && !(namespaces.has('network') && namespaces.get('network') === undefined);
    ops.push(...rootfsOps(spec, { bundle: options.bundle, rootfs, inUserNs, cgroup: options.cgroup, newCgroupNs, mountLabel, sysfsBound }, [userClone], settings));
  }
  add('i-mkdirs', [proc.cwd, 0o755], `create the working directory "${proc.cwd}"`);
  // Hooks before pivot_root: the runtime's (prestart, createRuntime) while the init waits at
  // i-hooks, then createContainer, run by the init in the container's namespaces.
  const createHooks = [...hooksOf(spec.hooks, 'prestart'), ...hooksOf(spec.hooks, 'createRuntime'), ...hooksOf(spec.hooks, 'createContainer')];
  if (createHooks.length > 0) add('i-hooks', [], 'wait for the prestart and createRuntime hooks');
  for (const hook of hooksOf(spec.hooks, 'createContainer')) add('i-hook', hookArgs(hook), `createContainer hook "${hook.path}"`);
  // The seccomp agent's socket is a path of the host: the process connects while it still sees
  // the host's files (a connection failure fails create), and hands the listener over once it
  // has loaded its filter, after the gate.
  if (seccomp?.listener !== undefined) {
    add('p-seccomp-agent', [seccomp.listener.path], `connect to the seccomp agent at config.linux.seccomp.listenerPath "${seccomp.listener.path}"`);
  }
  // pivot_root cannot leave a ramfs root (an initramfs): then the root is moved instead.
  // pivot_root moves every process of the namespace to the new root; chroot only its caller,
  // so the user's process (started already) chroots itself too.
  const ramfsRoot = !sharedMountNs && fs.statfsSync('/').type === RAMFS_MAGIC;
  if (sharedMountNs) add('i-chroot', [rootfs], `chroot to "${rootfs}"`);
  else if (ramfsRoot) add('i-move-root', [rootfs], `move the root to "${rootfs}"`);
  if (sharedMountNs || ramfsRoot) add('p-chroot', [rootfs], `chroot the process to "${rootfs}"`);
  else add('i-pivot-root', [rootfs], `pivot_root to "${rootfs}"`);
  if (!sharedMountNs) ops.push(...afterPivotOps(spec));
  // The terminal comes from the container's own devpts, so it is opened after pivot_root.
  if (options.consoleSocket !== undefined) {
    add('i-pty', [], 'open a terminal on "/dev/ptmx"');
    // From create on, the terminal is the stdio of the init and the waiting process, as with
    // runc: the caller's pipes must reach EOF when create returns (containerd's shim reads
    // them to the end before it starts the task).
    add('i-pty-stdio', [], 'make the terminal the stdio of the init and the process');
  }
  if (spec.root.readonly === true) add('i-remount-ro', ['/', 0], 'make the root filesystem read-only');
  const env = [...(proc.env ?? []), ...(options.extraEnv ?? [])];
  const candidates = executableCandidates(proc.args[0], env, proc.cwd);
  add('i-find-exec', candidates, `exec "${proc.args[0]}"`);
  // The rlimits and the security labels, by the user's process before the start gate, as runc
  // sets them during create (its init's profile before "procReady", the rlimits from its parent
  // at "procReady"): a limit the kernel refuses, or a profile that is not loaded, fails create,
  // not start.
  ops.push(...rlimitOps(proc, 'p', 'config.json: config.process'));
  ops.push(...labelOps(proc, 'p', 'config.json: config.process'));
  if (spec.linux?.mountLabel !== undefined && sharedMountNs) mountLabelOf(spec.linux.mountLabel, 'config.json: config.linux');

  // The user's process, after the gate: its own identity and limits, then exec.
  for (const hook of hooksOf(spec.hooks, 'startContainer')) add('u-hook', hookArgs(hook), `startContainer hook "${hook.path}"`);
  ops.push(...processOps(proc, {
    seccomp, terminal: options.consoleSocket !== undefined, newSession: true, keepFds: options.extraFds, env, candidates,
    beforeGate: true, personality: spec.linux?.personality, where: 'config.json: config.process',
    setgroupsDenied: (newUserNs || joinsSandboxUserNs) && options.unprivileged === true,
  }));
  return refuseNul({ ops });
}

type IdMapping = { containerID: number; hostID: number; size: number };

// The maps of the init's new user namespace, written by the gofer before the init goes on. Root
// writes them itself. A user other than root may write only one line, mapping its own id, and
// the gid map only once setgroups is "deny" (user_namespaces(7)); anything more (the ranges
// /etc/subuid and /etc/subgid give the user) is written by the setuid newuidmap and newgidmap,
// which check them against those files, as runc does. setgroups is then left to newgidmap.
function idMapOps(spec: Spec, options: PlanOptions): PlanOp[] {
  const ops: PlanOp[] = [];
  const kinds = [
    { kind: 'uid', mappings: spec.linux?.uidMappings, own: process.geteuid!(), helper: options.idmapHelpers?.uid, tool: 'newuidmap', file: '/etc/subuid' },
    { kind: 'gid', mappings: spec.linux?.gidMappings, own: process.getegid!(), helper: options.idmapHelpers?.gid, tool: 'newgidmap', file: '/etc/subgid' },
  ] as const;
  for (const { kind, mappings, own, helper, tool, file } of kinds) {
    const field = `config.json: config.linux.${kind}Mappings`;
    if (mappings === undefined || mappings.length === 0) throw new SpecError(`${field}: a new user namespace needs them`);
    const text = (mappings as IdMapping[]).map((e) => `${e.containerID} ${e.hostID} ${e.size}`);
    const ownOnly = mappings.length === 1 && mappings[0].hostID === own && mappings[0].size === 1;
    if (options.unprivileged !== true || ownOnly) {
      if (options.unprivileged === true && kind === 'gid') ops.push({ op: 'g-setgroups', args: ['deny'], description: 'deny setgroups in the user namespace' });
      ops.push({ op: `g-${kind}-map`, args: [text.join('\n') + '\n'], description: `write the ${kind} map` });
      continue;
    }
    if (helper === undefined) {
      throw new SpecError(`${field}: ${text.map((t) => `"${t}"`).join(', ')} maps more than this user's own ${kind} (${own}): that needs ${tool} ` +
        `(the uidmap package) and ranges of ${file} for the user, and ${tool} is not installed`);
    }
    ops.push({
      op: 'g-idmap-helper', args: [helper, ...text.flatMap((t) => t.split(' '))],
      description: `write the ${kind} map ${text.map((t) => `"${t}"`).join(', ')} with ${helper}`,
      hints: { ENOENT: `${helper} is gone`, EACCES: `${helper} may not be run` },
    });
  }
  return ops;
}

// What the container's uts, ipc and network namespaces are given: the hostname, the domain
// name, then the sysctls, in runc's order (standard_init_linux.go: a kernel.hostname sysctl
// wins over config.hostname). Only keys of the container's own namespaces (sysctl.ts), written
// from inside them (a namespaced sysctl applies to the namespace of the writer) through the
// container's own procfs, mounted at /proc by then, and never through the host's: the file is
// opened beneath that mount without following a symlink or crossing into a mount over it
// (native/init/resolve.c, open_in_procfs), so neither an image's /proc nor a mount over
// /proc/sys can lead the write elsewhere (runc's CVE-2025-52881). Before the read-only paths,
// which make /proc/sys read-only. Without a procfs at /proc the write fails, naming the key,
// as runc's does (it writes to "/proc/sys/..." after pivot_root).
function namespaceSettingOps(spec: Spec, namespaces: Map<string, string | undefined>, subcontainer: boolean): PlanOp[] {
  const ops: PlanOp[] = [];
  if (spec.hostname !== undefined && spec.hostname !== '') {
    if (!namespaces.has('uts')) {
      throw new SpecError(!subcontainer ? 'config.json: config.hostname: setting the hostname needs a uts namespace'
        : 'config.json: config.hostname: this subcontainer shares its sandbox\'s hostname (its spec lists no uts namespace)');
    }
    ops.push({ op: 'i-sethostname', args: [spec.hostname], description: `set the hostname "${spec.hostname}"` });
  }
  if (spec.domainname !== undefined && spec.domainname !== '') {
    if (!namespaces.has('uts')) throw new SpecError('config.json: config.domainname: setting the domain name needs a uts namespace');
    ops.push({ op: 'i-setdomainname', args: [spec.domainname], description: `set the domain name "${spec.domainname}"` });
  }
  for (const { key, file, value } of sysctlFiles(spec.linux?.sysctl, namespaces)) {
    // As runc (libcontainer/configs/validate): one value for the name, not two that race.
    const field = key === 'kernel.hostname' ? 'hostname' : key === 'kernel.domainname' ? 'domainname' : undefined;
    if (field !== undefined && spec[field] !== undefined && spec[field] !== '') {
      throw new SpecError(`config.json: config.linux.sysctl: "${key}" conflicts with config.${field}: give one of them`);
    }
    ops.push({
      op: 'i-sysctl', args: ['/proc', file.slice('/proc/'.length), value], description: `set sysctl ${key}`,
      hints: {
        ENODEV: 'there is no procfs at "/proc" in the container to write it through (config.mounts needs a "proc" mount there)',
        ENOENT: 'the kernel has no such sysctl',
        ELOOP: `"${file}" in the container is reached through a symlink`,
        EXDEV: `a mount over "${file}" or a directory above it (below "/proc") would redirect the write`,
      },
    });
  }
  return ops;
}

export interface ExecPlanOptions {
  /** Descriptors after stdio that the process keeps (exec --preserve-fds). */
  keepFds?: number;
  /** The container's cgroup.procs files, joined first, from the host side. */
  cgroupProcs: string[];
  /**
   * The cgroup2 mount point (null: none), which tells the cgroup2 one of cgroupProcs apart for
   * the faster way in (see buildExecPlan); without it, every file is written as it is.
   */
  cgroupUnified?: string | null;
  /** The container's namespaces, in the order to enter them. */
  namespaces: NamespaceFd[];
  /** The container's seccomp profile, which its exec'd processes get too (as with runc). */
  seccomp?: Record<string, unknown>;
  /** For process.terminal: where to send the terminal's master. */
  consoleSocket?: string;
  /** The container's linux.personality, which its exec'd processes get too (as with runc). */
  personality?: Personality;
  /** The container's state, which goes to the seccomp agent of an SCMP_ACT_NOTIFY profile. */
  state?: object;
  /** No setgroups (see ProcessOpsOptions.setgroupsDenied). */
  setgroupsDenied?: boolean;
}

/**
 * The plan of `runcell exec` for native/init's exec helper: x- steps in the helper (cgroup,
 * console socket, namespaces, terminal), then the same process steps a container's own
 * process runs.
 */
export function buildExecPlan(proc: Process, options: ExecPlanOptions): LaunchPlan {
  if (proc.args === undefined || proc.args.length === 0) throw new SpecError('process.args: exec needs a program to run');
  const ops: PlanOp[] = [];
  const add = (op: string, args: Array<string | number>, description: string) =>
    ops.push({ op, args: args.map(String), description });
  if (proc.terminal === true && options.consoleSocket === undefined) {
    throw new SpecError('process.terminal: a terminal needs --console-socket');
  }
  // Joined while our /proc and paths are still the host's; "0" is the writing process. As for
  // create's init (see buildLaunchPlan): writing to cgroup.procs takes the kernel's threadgroup
  // lock for writing and an RCU grace period (~10 ms here). The helper, one thread, joins each
  // v1 hierarchy by writing 0 to its tasks file (the kernel elides the lock for a thread moving
  // itself), and the process is cloned straight into the cgroup2 directory (CLONE_INTO_CGROUP;
  // where clone3 cannot, the helper writes cgroup.procs then). Not across a user namespace: the
  // helper loses the host's rights over the cgroup files when it joins it, before the clone.
  const selfJoin = options.cgroupUnified !== undefined && !options.namespaces.some((ns) => ns.type === 'user');
  const unifiedPrefix = options.cgroupUnified == null ? undefined : options.cgroupUnified.replace(/\/$/, '') + '/';
  let cloneInto: string | undefined;
  for (const procs of options.cgroupProcs) {
    const dir = path.dirname(procs);
    if (!selfJoin) add('x-write', [procs, 0], `join the cgroup "${dir}"`);
    else if (unifiedPrefix !== undefined && procs.startsWith(unifiedPrefix)) cloneInto = dir;
    else add('x-write', [path.join(dir, 'tasks'), 0], `join the cgroup "${dir}"`);
  }
  if (cloneInto !== undefined) add('x-clone-into', [cloneInto], `start the process in the cgroup "${cloneInto}"`);
  // A cgroup namespace joined before the clone would hide the helper's own cgroup from it (on a
  // cgroup2 mounted with nsdelegate, the kernel then refuses the clone into the container's):
  // the process joins it itself, as its first step (it is root in every namespace then).
  const deferred = cloneInto === undefined ? undefined : options.namespaces.find((ns) => ns.type === 'cgroup');
  const joined = options.namespaces.filter((ns) => ns !== deferred);
  if (options.consoleSocket !== undefined) add('x-console', [options.consoleSocket], `connect to the console socket "${options.consoleSocket}"`);
  const seccomp = options.seccomp === undefined ? undefined : compileSeccomp(options.seccomp as unknown as SeccompProfile);
  if (seccomp?.listener !== undefined) {
    // The helper connects (the path is the host's) and, once the process has loaded its filter
    // and passed it the listener, sends it on with the process's pid, which only it knows.
    const { before, after } = containerProcessState(options.state ?? {}, seccomp.listener);
    add('x-seccomp-agent', [seccomp.listener.path, before, after], `send the seccomp listener to config.linux.seccomp.listenerPath "${seccomp.listener.path}"`);
  }
  for (const ns of joined) add('x-setns-fd', [ns.fd, CLONE[ns.type]], `join the container's ${ns.type} namespace`);
  if (joined.length > 0) add('x-close', joined.map((ns) => ns.fd), 'close the container\'s namespaces');
  if (options.consoleSocket !== undefined) add('x-pty', [], 'open a terminal on "/dev/ptmx"');
  add('x-clone', [0], 'start the process');
  // Its descriptor goes with u-close-fds.
  if (deferred !== undefined) add('u-setns-fd', [deferred.fd, CLONE.cgroup], 'join the container\'s cgroup namespace');
  const env = proc.env ?? [];
  ops.push(...processOps(proc, {
    seccomp, terminal: options.consoleSocket !== undefined, newSession: options.consoleSocket !== undefined, keepFds: options.keepFds ?? 0, env,
    candidates: executableCandidates(proc.args[0], env, proc.cwd), beforeGate: false, personality: options.personality, where: 'process',
    setgroupsDenied: options.setgroupsDenied,
  }));
  return refuseNul({ ops });
}

interface ProcessOpsOptions {
  seccomp?: CompiledSeccomp;
  /** A terminal opened earlier becomes the controlling terminal and stdio. */
  terminal: boolean;
  /** A session of its own (a container's process; an exec'd one only with a terminal, as runc). */
  newSession: boolean;
  /** Descriptors after stdio that stay open across exec. */
  keepFds: number;
  env: string[];
  /** Where the program may be (the PATH search). */
  candidates: string[];
  /** process.rlimits and the security labels were set before the start gate already. */
  beforeGate: boolean;
  /** linux.personality, set for the process's execve. */
  personality?: Personality;
  /** The process object in messages: "config.json: config.process", or "process" for exec. */
  where: string;
  /** No setgroups: the user namespace denies it (see PlanOptions.unprivileged), or runcell runs
   * as a user other than root, where runc never calls it either (the maps newgidmap wrote
   * leave it allowed, but dropping the user's groups could open files that deny them). The
   * supplementary groups stay as they are, and asking for some is an error. */
  setgroupsDenied?: boolean;
}

// The process's own steps, after the gate: limits, identity, capabilities, then exec.
function processOps(proc: Process, options: ProcessOpsOptions): PlanOp[] {
  const ops: PlanOp[] = [];
  const add = (op: string, args: Array<string | number>, description: string) =>
    ops.push({ op, args: args.map(String), description });
  const { seccomp, env, candidates } = options;
  if (proc.oomScoreAdj !== undefined) add('u-write', ['/proc/self/oom_score_adj', proc.oomScoreAdj], `set oom_score_adj to ${proc.oomScoreAdj}`);
  // The security labels and the personality take effect at execve; set while the process is
  // still privileged (runc does the same), before seccomp could forbid the writes.
  if (!options.beforeGate) ops.push(...rlimitOps(proc, 'u', options.where), ...labelOps(proc, 'u', options.where));
  if (options.personality !== undefined) {
    const { domain } = options.personality;
    add('u-personality', [PERSONALITIES[domain]], `set the personality ${domain}`);
  }
  if (options.newSession) add('u-setsid', [], 'start a session');
  if (options.terminal) {
    const size = proc.consoleSize;
    add('u-console', size ? [size.height, size.width] : [], 'make the terminal the controlling terminal and stdio');
  }
  add('u-umask', [proc.user.umask ?? 0o022], 'set the umask');
  // The last steps are: every descriptor not handed over marked close-on-exec, the filter, exec.
  // The filter may refuse close_range (an allow-list older than Linux 5.9, or one that forgot
  // it), so the descriptors come first, with or without no_new_privs; every descriptor the steps
  // below open is close-on-exec already.
  add('u-close-fds', [3 + options.keepFds], 'close inherited descriptors');
  const loadSeccomp = () => {
    add('u-seccomp', [seccomp!.flags, seccomp!.program.toString('hex')], 'load the seccomp filter');
    // At once: a step after it may make a notified call, which waits for the agent.
    if (seccomp!.listener !== undefined) add('u-seccomp-notify', [], `send the seccomp listener to config.linux.seccomp.listenerPath "${seccomp!.listener.path}"`);
  };
  // Loading a filter takes no_new_privs or CAP_SYS_ADMIN. With no_new_privs it is the very
  // last step before execve; without, it must come while the process is still privileged,
  // before it changes user and drops capabilities (runc does the same).
  if (seccomp !== undefined && proc.noNewPrivileges !== true) loadSeccomp();
  // No process.capabilities: no capabilities at all (as runc: an empty set, not the caller's).
  const caps = proc.capabilities ?? {};
  add('u-bounding', [capMask(caps.bounding, 'bounding')], 'drop capabilities from the bounding set');
  // HOME, when the environment has none (or an empty one): the user's home in the container's
  // /etc/passwd, else "/" (runc's setupUser). Read while still root, from inside the root.
  if (!hasHome(env)) add('u-home', [proc.user.uid, '/'], 'find the home directory in "/etc/passwd"');
  add('u-keepcaps', [1], 'keep capabilities across setuid');
  if (options.setgroupsDenied !== true) {
    add('u-setgroups', proc.user.additionalGids ?? [], 'set the supplementary groups');
  } else if ((proc.user.additionalGids ?? []).length > 0) {
    // runc (rootless) never calls setgroups either; runcell says so rather than drop the field.
    throw new SpecError(`${options.where}.user.additionalGids: supplementary groups cannot be set rootless (setgroups is "deny" in ` +
      'a user namespace whose gid map the user wrote itself, and runcell does not drop the user\'s own groups in one newgidmap mapped)');
  }
  add('u-setgid', [proc.user.gid], `set the group ${proc.user.gid}`);
  add('u-setuid', [proc.user.uid], `set the user ${proc.user.uid}`);
  add('u-keepcaps', [0], 'stop keeping capabilities');
  add('u-caps', [capMask(caps.effective, 'effective'), capMask(caps.permitted, 'permitted'), capMask(caps.inheritable, 'inheritable')], 'set the capabilities');
  // The kernel raises an ambient capability only if it is permitted and inheritable; runc's
  // default spec lists ambient ones without inheritable. As runc does, raise what can be and
  // say what cannot.
  const possible = (caps.ambient ?? []).filter((c) => caps.permitted?.includes(c) && caps.inheritable?.includes(c));
  const skipped = (caps.ambient ?? []).filter((c) => !possible.includes(c));
  if (skipped.length > 0) log.debug(`ambient capabilities ${skipped.join(', ')} are not both permitted and inheritable: not raised`);
  add('u-ambient', [capMask(possible, 'ambient')], 'raise the ambient capabilities');
  if (proc.noNewPrivileges === true) add('u-no-new-privs', [], 'set no_new_privs');
  add('u-chdir', [proc.cwd], `enter the working directory "${proc.cwd}"`);
  if (seccomp !== undefined && proc.noNewPrivileges === true) loadSeccomp();
  const args = proc.args ?? [];
  // An empty HOME gives way to the one u-home finds, which native/init appends. Counted, not
  // separated: an argument may be anything, "--" included (podman --init: "/run/podman-init -- CMD").
  const envOut = hasHome(env) ? env : env.filter((e) => !e.startsWith('HOME='));
  add('u-exec', [candidates.length, ...candidates, args.length, ...args, ...envOut], `exec "${args[0]}"`);
  return ops;
}

// linux.personality's domains, as personality(2) takes them (<linux/personality.h>).
const PERSONALITIES: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };

/**
 * process.rlimits as setrlimit steps of `phase`. The kernel's own maximum for RLIMIT_NOFILE
 * (fs.nr_open) is checked here, where the message can name the field: setrlimit would only
 * say EPERM, as it does for a hard limit raised without CAP_SYS_RESOURCE.
 */
function rlimitOps(proc: Process, phase: 'p' | 'u', where: string): PlanOp[] {
  const nrOpen = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8'));
  return (proc.rlimits ?? []).map((limit, i) => {
    const resource = RLIMITS[limit.type];
    if (resource === undefined) throw new SpecError(`${where}.rlimits[${i}].type: unknown rlimit "${limit.type}"`);
    if (limit.type === 'RLIMIT_NOFILE' && limit.hard > nrOpen) {
      throw new SpecError(`${where}.rlimits[${i}].hard: ${limit.hard} is above the kernel's maximum for RLIMIT_NOFILE (fs.nr_open = ${nrOpen})`);
    }
    return {
      op: `${phase}-setrlimit`, args: [String(resource), String(limit.soft), String(limit.hard)],
      description: `set ${limit.type} to ${limit.soft}/${limit.hard}`,
      hints: { EPERM: `raising the hard limit of ${limit.type} to ${limit.hard} needs CAP_SYS_RESOURCE in the host's user namespace` },
    };
  });
}

/** Whether the environment sets HOME to something (runc: os.Getenv("HOME") != ""); the last
 * entry of a name is the one the process sees. */
function hasHome(env: string[]): boolean {
  const home = env.filter((e) => e.startsWith('HOME=')).pop();
  return home !== undefined && home !== 'HOME=';
}

/** The plan, if none of its values holds a NUL byte (see encodePlan); checked when it is
 * built, so that nothing has started when it is refused. */
function refuseNul(plan: LaunchPlan): LaunchPlan {
  for (const op of plan.ops) {
    if (op.args.some((arg) => arg.includes('\0'))) throw new SpecError(`config.json: ${op.description}: a value holds a NUL byte`);
  }
  return plan;
}

/**
 * The wire format native/init reads: records of NUL-terminated tokens, then "end". A NUL inside
 * a value (config.json's strings may hold "\u0000") would end its token early and make the
 * rest of the value tokens of ops of its own: an env entry "A=1\u00002\u0000g-cgroup\u0000/etc/x"
 * made the gofer, on the host, write the init's pid into /etc/x. No argument, path or
 * environment entry can hold a NUL anyway (execve and every path take C strings): refused.
 */
export function encodePlan(plan: LaunchPlan): Buffer {
  refuseNul(plan);
  const records = plan.ops.map((op) => [op.op, ...op.args]);
  records.push(['end']);
  return Buffer.from(records.map((tokens) => `${tokens.length}\0${tokens.join('\0')}\0`).join(''));
}

/** The message for a step that failed: `mount "proc" on "/proc": EPERM (operation not permitted)`. */
export function describeFailure(plan: LaunchPlan, index: number, errno: number): string {
  const step = plan.ops[index];
  const code = errno > 0 && errno < 1000 ? new ErrnoError(errno, 'x').code : undefined;
  const hint = code === undefined ? undefined : step?.hints?.[code];
  if (hint !== undefined) return `${step.description}: ${hint} (${code})`;
  return stepFailure(step?.description ?? (index === -2 ? 'write the user namespace maps' : undefined), errno);
}

// execve does not search PATH: the candidates are PATH's directories (the container's PATH,
// or the default one), or the path itself when it has a "/".
function executableCandidates(program: string, env: string[], cwd: string): string[] {
  if (program.includes('/')) return [path.posix.resolve(cwd, program)];
  const pathVar = env.filter((e) => e.startsWith('PATH=')).pop()?.slice(5) ?? DEFAULT_PATH;
  return pathVar.split(':').filter((d) => d !== '').map((dir) => path.posix.join(path.posix.resolve(cwd, dir), program));
}

function capMask(names: string[] | undefined, set: string): string {
  let mask = 0n;
  for (const name of names ?? []) {
    const bit = CAPABILITIES.indexOf(name);
    if (bit < 0) throw new SpecError(`config.json: config.process.capabilities.${set}: unknown capability "${name}"`);
    mask |= 1n << BigInt(bit);
  }
  return '0x' + mask.toString(16);
}
