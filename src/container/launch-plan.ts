// The launch plan: config.json turned into a flat list of steps that native/init executes
// one system call at a time. Every decision is here (what to mount where, in which order, in
// which process); the interpreter only runs the steps and reports the index and errno of one
// that fails, which describeFailure() turns into `mount "proc" on "/proc": EPERM (...)`.
//
// Phases, by the first letter of each op: g (the gofer, host side), i (the init, before the
// start gate), u (the user's process, after the gate, in its own pid namespace if nested).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { log } from '../log';
import { ErrnoError } from '../sys/errno';
import { SpecError, type Mount, type Process, type Spec } from '../oci/spec';
import { compileSeccomp, type SeccompProfile } from './seccomp';
import { hookArgs, hooksOf } from './hooks';

export interface PlanOp {
  op: string;
  args: string[];
  /** What the step does, for error messages: `mount "proc" on "/proc"`. */
  description: string;
}

export interface LaunchPlan {
  ops: PlanOp[];
  /** The user's process gets a pid namespace of its own, nested in the sandbox's. */
  nestedPidNamespace: boolean;
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
}

/**
 * Descriptors of a sandbox's namespaces (those of its root container's init), open in the
 * gofer and inherited by the init: opened and checked against the init's start time by the
 * caller, so a reused pid can never hand us a stranger's namespaces.
 */
export interface SandboxNamespaces {
  pid: number;
  ipc: number;
  uts: number;
  network: number;
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

const MS = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, REMOUNT: 32, MANDLOCK: 64, DIRSYNC: 128,
  NOATIME: 1024, NODIRATIME: 2048, BIND: 4096, MOVE: 8192, REC: 16384, UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18, SLAVE: 1 << 19, SHARED: 1 << 20, RELATIME: 1 << 21, STRICTATIME: 1 << 24,
} as const;

// mount(8) option words: [flags to set, flags to clear].
const MOUNT_FLAGS: Record<string, [number, number]> = {
  ro: [MS.RDONLY, 0], rw: [0, MS.RDONLY], nosuid: [MS.NOSUID, 0], suid: [0, MS.NOSUID],
  nodev: [MS.NODEV, 0], dev: [0, MS.NODEV], noexec: [MS.NOEXEC, 0], exec: [0, MS.NOEXEC],
  sync: [MS.SYNCHRONOUS, 0], async: [0, MS.SYNCHRONOUS], dirsync: [MS.DIRSYNC, 0], remount: [MS.REMOUNT, 0],
  mand: [MS.MANDLOCK, 0], nomand: [0, MS.MANDLOCK], noatime: [MS.NOATIME, 0], atime: [0, MS.NOATIME],
  nodiratime: [MS.NODIRATIME, 0], diratime: [0, MS.NODIRATIME], relatime: [MS.RELATIME, 0], norelatime: [0, MS.RELATIME],
  strictatime: [MS.STRICTATIME, 0], nostrictatime: [0, MS.STRICTATIME],
  bind: [MS.BIND, 0], rbind: [MS.BIND | MS.REC, 0], defaults: [0, 0],
};

const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5, RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

// The devices every container gets (runc's defaults), and the links /dev is expected to have.
const DEFAULT_DEVICES = [
  { path: '/dev/null', major: 1, minor: 3 }, { path: '/dev/zero', major: 1, minor: 5 },
  { path: '/dev/full', major: 1, minor: 7 }, { path: '/dev/random', major: 1, minor: 8 },
  { path: '/dev/urandom', major: 1, minor: 9 }, { path: '/dev/tty', major: 5, minor: 0 },
];
const DEV_SYMLINKS: Array<[string, string]> = [
  ['/proc/self/fd', '/dev/fd'], ['/proc/self/fd/0', '/dev/stdin'], ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'], ['/proc/kcore', '/dev/core'],
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
  if (namespaces.has('time')) throw new SpecError('config.json: config.linux.namespaces: time namespaces are not supported');
  if (!namespaces.has('mount') || namespaces.get('mount') !== undefined) {
    throw new SpecError('config.json: config.linux.namespaces: runcell needs a new mount namespace for the root filesystem');
  }
  const newUserNs = namespaces.has('user') && namespaces.get('user') === undefined;
  const newPidNs = namespaces.has('pid') && namespaces.get('pid') === undefined;
  const { sandbox } = options;

  // The gofer: files it writes, and how it clones the init.
  const { files } = options;
  add('g-files', [files.exit, files.exitTmp, files.gate, files.ready], 'prepare the container\'s files');
  add('g-mkfifo', [files.gate], `create the start gate "${files.gate}"`);
  add('g-mkfifo', [files.ready], `create "${files.ready}"`);
  // A subcontainer's init lives in its sandbox's pid namespace, whatever its spec says of
  // pid (that is for its user's process), so the sandbox ends when the sandbox's init does.
  if (sandbox !== undefined) add('g-join-pid', [`/proc/self/fd/${sandbox.pid}`], 'join the sandbox\'s pid namespace');
  else if (namespaces.has('pid') && !newPidNs) add('g-join-pid', [namespaces.get('pid')!], `join the pid namespace "${namespaces.get('pid')}"`);
  add('g-clone', [(newUserNs ? CLONE.user : 0) | (newPidNs && sandbox === undefined ? CLONE.pid : 0)], 'clone the init');
  if (options.cgroupManager) add('g-cgroup-manager', [], 'wait for the cgroup manager to place the init');
  for (const procs of options.cgroupProcs ?? []) add('g-cgroup', [procs], `join the cgroup "${path.dirname(procs)}"`);
  if (options.consoleSocket !== undefined) add('g-console', [options.consoleSocket], `send the terminal to the console socket "${options.consoleSocket}"`);
  if (newUserNs) {
    const map = (m: { containerID: number; hostID: number; size: number }[] | undefined, kind: string) => {
      if (m === undefined || m.length === 0) throw new SpecError(`config.json: config.linux.${kind}Mappings: a new user namespace needs them`);
      return m.map((e) => `${e.containerID} ${e.hostID} ${e.size}`).join('\n') + '\n';
    };
    add('g-uid-map', [map(spec.linux?.uidMappings, 'uid')], 'write the uid map');
    add('g-gid-map', [map(spec.linux?.gidMappings, 'gid')], 'write the gid map');
  }

  // The init: namespaces (a joined user namespace first: it grants the rights for the rest).
  const joinOrder = ['user', 'ipc', 'uts', 'network', 'cgroup'] as const;
  for (const type of joinOrder) {
    const nsPath = namespaces.get(type);
    if (namespaces.has(type) && nsPath !== undefined) add('i-setns', [nsPath, CLONE[type]], `join the ${type} namespace "${nsPath}"`);
  }
  if (sandbox !== undefined) {
    // "Namespaces that a subcontainer's spec leaves out are the sandbox's."
    for (const type of ['ipc', 'uts', 'network'] as const) {
      if (!namespaces.has(type)) add('i-setns-fd', [sandbox[type], CLONE[type]], `join the sandbox's ${type} namespace`);
    }
    // Its user's process: in a pid namespace named by path, else nested or the sandbox's own.
    const pidPath = namespaces.get('pid');
    if (pidPath !== undefined) add('i-setns', [pidPath, CLONE.pid], `join the pid namespace "${pidPath}"`);
    add('i-close', [sandbox.pid, sandbox.ipc, sandbox.uts, sandbox.network], 'close the sandbox\'s namespaces');
  }
  let unshare = CLONE.mount;
  for (const type of ['ipc', 'uts', 'network', 'cgroup'] as const) {
    if (namespaces.has(type) && namespaces.get(type) === undefined) unshare |= CLONE[type];
  }
  if (namespaces.has('user')) {
    // Until now the init is the host's root, which the maps need not cover: files it made
    // would have no owner in the container (EOVERFLOW). Become the namespace's root.
    add('i-setgid', [0], 'become root of the user namespace (gid)');
    add('i-setuid', [0], 'become root of the user namespace (uid)');
  }
  add('i-unshare', [unshare], 'create the namespaces');

  // The root filesystem.
  const propagation = PROPAGATION[spec.linux?.rootfsPropagation ?? 'rprivate'];
  add('i-mount', ['', '/', '', propagation | MS.REC, ''], `make the propagation of "/" ${spec.linux?.rootfsPropagation ?? 'rprivate'}`);
  add('i-mount', [rootfs, rootfs, '', MS.BIND | MS.REC, ''], `bind the root filesystem "${rootfs}"`);
  const deferred: PlanOp[] = [];
  const devIsBound = (spec.mounts ?? []).some((m) => normalize(m.destination) === '/dev' && isBind(m));
  for (const mount of spec.mounts ?? []) {
    const destination = resolveInRoot(rootfs, mount.destination);
    // /proc must be mounted from inside the user's pid namespace to show it, so mounts on or
    // under /proc wait for the user's process; their mount points are made now, while the
    // root may still be written.
    if (mount.type === 'proc' || destination === '/proc' || destination.startsWith('/proc/')) {
      add('i-mkdir', [rootfs + destination, 0o755], `create the mount point "${destination}"`);
      deferred.push(...mountOps('u', mount, destination, '', options.bundle));
      continue;
    }
    ops.push(...mountPointOps(mount, rootfs + destination, destination, options.bundle));
    ops.push(...mountOps('i', mount, destination, rootfs, options.bundle));
  }
  if (!devIsBound) {
    for (const device of [...DEFAULT_DEVICES.map((d) => ({ ...d, type: 'c', fileMode: 0o666, uid: 0, gid: 0 })), ...(spec.linux?.devices ?? [])]) {
      const target = rootfs + resolveInRoot(rootfs, device.path);
      if (newUserNs) {
        // mknod is not allowed in a user namespace: bind the host's node instead.
        add('i-touch', [target, 0o644], `create "${device.path}"`);
        add('i-mount', [device.path, target, '', MS.BIND, ''], `bind the device "${device.path}"`);
        continue;
      }
      const typeBits = device.type === 'b' ? 0o060000 : device.type === 'p' ? 0o010000 : 0o020000;
      add('i-mknod', [target, typeBits | ((device.fileMode ?? 0o666) & 0o7777), device.major ?? 0, device.minor ?? 0], `create the device "${device.path}"`);
      add('i-chmod', [target, (device.fileMode ?? 0o666) & 0o7777], `set the mode of "${device.path}"`);
      add('i-chown', [target, device.uid ?? 0, device.gid ?? 0], `set the owner of "${device.path}"`);
    }
    for (const [target, link] of DEV_SYMLINKS) add('i-symlink', [target, rootfs + link], `link "${link}" to "${target}"`);
    const hasPts = (spec.mounts ?? []).some((m) => normalize(m.destination) === '/dev/pts');
    if (hasPts) add('i-symlink', ['pts/ptmx', `${rootfs}/dev/ptmx`], 'link "/dev/ptmx" to "pts/ptmx"');
  }
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    // Written through the host's /proc from inside the new namespaces, before pivot_root:
    // namespaced sysctls apply to the namespace of the writer.
    add('i-write', [`/proc/sys/${key.replace(/\./g, '/')}`, value], `set sysctl ${key}`);
  }
  if (spec.hostname !== undefined && spec.hostname !== '') {
    if (!namespaces.has('uts')) {
      throw new SpecError(sandbox === undefined ? 'config.json: config.hostname: setting the hostname needs a uts namespace'
        : 'config.json: config.hostname: this subcontainer shares its sandbox\'s hostname (its spec lists no uts namespace)');
    }
    add('i-sethostname', [spec.hostname], `set the hostname "${spec.hostname}"`);
  }
  if (spec.domainname !== undefined && spec.domainname !== '') {
    if (!namespaces.has('uts')) throw new SpecError('config.json: config.domainname: setting the domain name needs a uts namespace');
    add('i-setdomainname', [spec.domainname], `set the domain name "${spec.domainname}"`);
  }
  if (namespaces.has('user') && deferred.some((op) => op.args[2] === 'proc')) {
    // In a user namespace the kernel mounts a new procfs only where a fully visible one is
    // already mounted (mount_too_revealing), and pivot_root takes the host's away. So the init
    // mounts one inside the root first; the user's process mounts its own over it.
    add('i-mount', ['proc', `${rootfs}/proc`, 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC, ''], 'mount "proc" on "/proc" (for the user namespace)');
  }
  add('i-mkdir', [rootfs + resolveInRoot(rootfs, proc.cwd), 0o755], `create the working directory "${proc.cwd}"`);
  // Hooks before pivot_root: the runtime's (prestart, createRuntime) while the init waits at
  // i-hooks, then createContainer, run by the init in the container's namespaces.
  const createHooks = [...hooksOf(spec.hooks, 'prestart'), ...hooksOf(spec.hooks, 'createRuntime'), ...hooksOf(spec.hooks, 'createContainer')];
  if (createHooks.length > 0) add('i-hooks', [], 'wait for the prestart and createRuntime hooks');
  for (const hook of hooksOf(spec.hooks, 'createContainer')) add('i-hook', hookArgs(hook), `createContainer hook "${hook.path}"`);
  // pivot_root cannot leave a ramfs root (an initramfs): then the root is moved instead.
  if (fs.statfsSync('/').type === RAMFS_MAGIC) add('i-move-root', [rootfs], `move the root to "${rootfs}"`);
  else add('i-pivot-root', [rootfs], `pivot_root to "${rootfs}"`);
  // The terminal comes from the container's own devpts, so it is opened after pivot_root.
  if (options.consoleSocket !== undefined) add('i-pty', [], 'open a terminal on "/dev/ptmx"');
  if (spec.root.readonly === true) add('i-remount-ro', ['/', 0], 'make the root filesystem read-only');
  const env = [...(proc.env ?? []), ...(options.extraEnv ?? [])];
  const candidates = executableCandidates(proc.args[0], env, proc.cwd);
  add('i-find-exec', candidates, `exec "${proc.args[0]}"`);
  add('i-user-clone', [newPidNs ? CLONE.pid : 0], 'start the process');

  // The user's process: /proc, masks, then its own identity and limits, then exec.
  ops.push(...deferred);
  for (const hook of hooksOf(spec.hooks, 'startContainer')) add('u-hook', hookArgs(hook), `startContainer hook "${hook.path}"`);
  for (const masked of spec.linux?.maskedPaths ?? []) add('u-mask', [masked], `mask "${masked}"`);
  for (const readonly of spec.linux?.readonlyPaths ?? []) add('u-readonly', [readonly], `make "${readonly}" read-only`);
  const seccomp = spec.linux?.seccomp === undefined ? undefined : compileSeccomp(spec.linux.seccomp as unknown as SeccompProfile);
  ops.push(...processOps(proc, {
    seccomp, terminal: options.consoleSocket !== undefined, newSession: true, keepFds: options.extraFds, env, candidates,
  }));
  return { ops, nestedPidNamespace: newPidNs };
}

export interface ExecPlanOptions {
  /** The container's cgroup.procs files, joined first, from the host side. */
  cgroupProcs: string[];
  /** The container's namespaces, in the order to enter them. */
  namespaces: NamespaceFd[];
  /** The container's seccomp profile, which its exec'd processes get too (as with runc). */
  seccomp?: Record<string, unknown>;
  /** For process.terminal: where to send the terminal's master. */
  consoleSocket?: string;
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
  // Joined while our /proc and paths are still the host's; "0" is the writing process.
  for (const procs of options.cgroupProcs) add('x-write', [procs, 0], `join the cgroup "${path.dirname(procs)}"`);
  if (options.consoleSocket !== undefined) add('x-console', [options.consoleSocket], `connect to the console socket "${options.consoleSocket}"`);
  for (const ns of options.namespaces) add('x-setns-fd', [ns.fd, CLONE[ns.type]], `join the container's ${ns.type} namespace`);
  if (options.namespaces.length > 0) add('x-close', options.namespaces.map((ns) => ns.fd), 'close the container\'s namespaces');
  if (options.consoleSocket !== undefined) add('x-pty', [], 'open a terminal on "/dev/ptmx"');
  add('x-clone', [0], 'start the process');
  const env = proc.env ?? [];
  const seccomp = options.seccomp === undefined ? undefined : compileSeccomp(options.seccomp as unknown as SeccompProfile);
  ops.push(...processOps(proc, {
    seccomp, terminal: options.consoleSocket !== undefined, newSession: options.consoleSocket !== undefined, keepFds: 0, env,
    candidates: executableCandidates(proc.args[0], env, proc.cwd),
  }));
  return { ops, nestedPidNamespace: false };
}

interface ProcessOpsOptions {
  seccomp?: { flags: number; program: Buffer };
  /** A terminal opened earlier becomes the controlling terminal and stdio. */
  terminal: boolean;
  /** A session of its own (a container's process; an exec'd one only with a terminal, as runc). */
  newSession: boolean;
  /** Descriptors after stdio that stay open across exec. */
  keepFds: number;
  env: string[];
  /** Where the program may be (the PATH search). */
  candidates: string[];
}

// The process's own steps, after the gate: limits, identity, capabilities, then exec.
function processOps(proc: Process, options: ProcessOpsOptions): PlanOp[] {
  const ops: PlanOp[] = [];
  const add = (op: string, args: Array<string | number>, description: string) =>
    ops.push({ op, args: args.map(String), description });
  const { seccomp, env, candidates } = options;
  if (proc.oomScoreAdj !== undefined) add('u-write', ['/proc/self/oom_score_adj', proc.oomScoreAdj], `set oom_score_adj to ${proc.oomScoreAdj}`);
  for (const limit of proc.rlimits ?? []) {
    const resource = RLIMITS[limit.type];
    if (resource === undefined) throw new SpecError(`config.json: config.process.rlimits: unknown rlimit "${limit.type}"`);
    add('u-setrlimit', [resource, limit.soft, limit.hard], `set ${limit.type} to ${limit.soft}/${limit.hard}`);
  }
  if (options.newSession) add('u-setsid', [], 'start a session');
  if (options.terminal) {
    const size = proc.consoleSize;
    add('u-console', size ? [size.height, size.width] : [], 'make the terminal the controlling terminal and stdio');
  }
  add('u-umask', [proc.user.umask ?? 0o022], 'set the umask');
  const loadSeccomp = () => add('u-seccomp', [seccomp!.flags, seccomp!.program.toString('hex')], 'load the seccomp filter');
  // Loading a filter takes no_new_privs or CAP_SYS_ADMIN. With no_new_privs it is the very
  // last step before execve; without, it must come while the process is still privileged,
  // before it changes user and drops capabilities (runc does the same).
  if (seccomp !== undefined && proc.noNewPrivileges !== true) loadSeccomp();
  const caps = proc.capabilities;
  if (caps !== undefined) add('u-bounding', [capMask(caps.bounding, 'bounding')], 'drop capabilities from the bounding set');
  add('u-keepcaps', [1], 'keep capabilities across setuid');
  add('u-setgroups', proc.user.additionalGids ?? [], 'set the supplementary groups');
  add('u-setgid', [proc.user.gid], `set the group ${proc.user.gid}`);
  add('u-setuid', [proc.user.uid], `set the user ${proc.user.uid}`);
  add('u-keepcaps', [0], 'stop keeping capabilities');
  if (caps !== undefined) {
    add('u-caps', [capMask(caps.effective, 'effective'), capMask(caps.permitted, 'permitted'), capMask(caps.inheritable, 'inheritable')], 'set the capabilities');
    // The kernel raises an ambient capability only if it is permitted and inheritable; runc's
    // default spec lists ambient ones without inheritable. As runc does, raise what can be and
    // say what cannot.
    const possible = (caps.ambient ?? []).filter((c) => caps.permitted?.includes(c) && caps.inheritable?.includes(c));
    const skipped = (caps.ambient ?? []).filter((c) => !possible.includes(c));
    if (skipped.length > 0) log.debug(`ambient capabilities ${skipped.join(', ')} are not both permitted and inheritable: not raised`);
    add('u-ambient', [capMask(possible, 'ambient')], 'raise the ambient capabilities');
  }
  if (proc.noNewPrivileges === true) add('u-no-new-privs', [], 'set no_new_privs');
  add('u-chdir', [proc.cwd], `enter the working directory "${proc.cwd}"`);
  add('u-close-fds', [3 + options.keepFds], 'close inherited descriptors');
  if (seccomp !== undefined && proc.noNewPrivileges === true) loadSeccomp();
  const args = proc.args ?? [];
  add('u-exec', [...candidates, '--', ...args, '--', ...env], `exec "${args[0]}"`);
  return ops;
}

/** The wire format native/init reads: records of NUL-terminated tokens, then "end". */
export function encodePlan(plan: LaunchPlan): Buffer {
  const records = plan.ops.map((op) => [op.op, ...op.args]);
  records.push(['end']);
  return Buffer.from(records.map((tokens) => `${tokens.length}\0${tokens.join('\0')}\0`).join(''));
}

/** The message for a step that failed: `mount "proc" on "/proc": EPERM (operation not permitted)`. */
export function describeFailure(plan: LaunchPlan, index: number, errno: number): string {
  return stepFailure(plan.ops[index]?.description ?? (index === -2 ? 'write the user namespace maps' : undefined), errno);
}

/** The same, from a step's description (undefined: a step outside the plan). */
export function stepFailure(description: string | undefined, errno: number): string {
  // The interpreter reports a hook's non-zero exit as 1000 + its status.
  if (errno >= 1000) return `${description ?? 'a hook'}: exited with status ${errno - 1000}`;
  const error = new ErrnoError(errno, 'x');
  const text = error.message.slice(error.code.length + 2, error.message.lastIndexOf(', x'));
  return `${description ?? 'start the container'}: ${error.code} (${text})`;
}

function isBind(mount: Mount): boolean {
  return mount.type === 'bind' || (mount.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

function normalize(p: string): string {
  return path.posix.normalize('/' + p).replace(/\/+$/, '') || '/';
}

function parseOptions(mount: Mount): { flags: number; clear: number; propagation: number[]; data: string[] } {
  let flags = 0;
  let clear = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  for (const option of mount.options ?? []) {
    if (option in MOUNT_FLAGS) {
      flags |= MOUNT_FLAGS[option][0];
      clear |= MOUNT_FLAGS[option][1];
    } else if (option in PROPAGATION) {
      propagation.push(PROPAGATION[option]);
    } else {
      data.push(option);
    }
  }
  return { flags: flags & ~clear, clear, propagation, data };
}

// A bind mount needs its mount point to be of the source's kind: a file for a file.
function mountPointOps(mount: Mount, target: string, destination: string, bundle: string): PlanOp[] {
  const source = mount.source === undefined ? undefined : path.resolve(bundle, mount.source);
  const sourceIsFile = isBind(mount) && source !== undefined && fs.statSync(source, { throwIfNoEntry: false })?.isDirectory() === false;
  if (sourceIsFile) {
    return [
      { op: 'i-mkdir', args: [path.dirname(target), '493'], description: `create the mount point "${path.dirname(destination)}"` },
      { op: 'i-touch', args: [target, '420'], description: `create the mount point "${destination}"` },
    ];
  }
  return [{ op: 'i-mkdir', args: [target, '493'], description: `create the mount point "${destination}"` }];
}

function mountOps(phase: 'i' | 'u', mount: Mount, destination: string, rootfs: string, bundle: string): PlanOp[] {
  const target = rootfs + destination;
  const { flags, propagation, data } = parseOptions(mount);
  const bind = isBind(mount);
  const type = bind ? '' : mount.type ?? '';
  let source = mount.source ?? '';
  // "source: ... a path relative to the bundle" (config.md, mounts).
  if (bind && source !== '' && !source.startsWith('/')) source = path.resolve(bundle, source);
  const what = `mount "${mount.source ?? mount.type ?? ''}" on "${destination}"`;
  const ops: PlanOp[] = [];
  // The cgroup filesystem: the host's hierarchy, read-only (cgroup namespaces and per-container
  // trees come with cgroup support).
  if (mount.type === 'cgroup') {
    ops.push({ op: `${phase}-mount`, args: ['/sys/fs/cgroup', target, '', String(MS.BIND | MS.REC), ''], description: what });
    ops.push({ op: `${phase}-remount-ro`, args: [target, String(MS.REC)], description: `make "${destination}" read-only` });
    return ops;
  }
  ops.push({ op: `${phase}-mount`, args: [source, target, type, String(bind ? flags & (MS.BIND | MS.REC) : flags), data.join(',')], description: what });
  // Bind mounts take their other flags (ro, nosuid, ...) only from a remount.
  if (bind && (flags & ~(MS.BIND | MS.REC)) !== 0) {
    ops.push({ op: `${phase}-mount`, args: ['', target, '', String(MS.REMOUNT | MS.BIND | (flags & ~MS.REC)), ''], description: `apply the options of "${destination}"` });
  }
  for (const p of propagation) {
    ops.push({ op: `${phase}-mount`, args: ['', target, '', String(p), ''], description: `set the propagation of "${destination}"` });
  }
  return ops;
}

/**
 * Where `destination` is inside the root filesystem, following symlinks the way the container
 * would see them: an absolute link restarts at the rootfs, ".." stops at it. So a hostile
 * rootfs cannot make us mount over a host path (CVE-2021-30465 and kin). Returns a path
 * relative to the rootfs, starting with "/".
 */
export function resolveInRoot(rootfs: string, destination: string): string {
  const parts = destination.split('/').filter((p) => p !== '' && p !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(rootfs, ...resolved, part);
    const stat = fs.lstatSync(candidate, { throwIfNoEntry: false });
    if (stat?.isSymbolicLink()) {
      if (++links > 40) throw new ErrnoError(40, 'readlink', candidate); // ELOOP
      const target = fs.readlinkSync(candidate);
      if (target.startsWith('/')) resolved.length = 0;
      parts.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    resolved.push(part);
  }
  return '/' + resolved.join('/');
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
