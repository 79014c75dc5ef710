// The only file that loads the addon, and the one typed declaration of what it exports
// (node-pty's native.d.ts). Each function is one system call; see native/addon/.
import { ErrnoError, useErrnoTable } from './errno';
import { addonFile } from '../paths';

export interface WaitStatus {
  pid: number;
  /** Exit code when the process exited normally, else null. */
  exitCode: number | null;
  /** The signal that terminated (or stopped) the process, else null. */
  signal: number | null;
  coreDumped: boolean;
  stopped: boolean;
  continued: boolean;
}

export interface ProcStat {
  /** One letter: R, S, D, Z (zombie), T, t, X, I, ... */
  state: string;
  ppid: number;
  /** The kernel's PF_* flags of the task (PF_EXITING: 0x4). */
  flags: number;
  /** Clock ticks after boot at which the process started: with the pid, its identity. */
  startTime: number;
}

export interface SeccompFilter {
  defaultAction: number;
  /** libseccomp's architecture names: "x86_64", "x86", "x32", "aarch64", ... */
  architectures: string[];
  syscalls: Array<{
    name: string;
    action: number;
    args: Array<{ index: number; op: number; value: bigint; valueTwo: bigint }>;
  }>;
}

export interface NativeBinding {
  initialize(errnoError: typeof ErrnoError): void;
  /** libuv's [name, text] of a (negative) errno, as Node words its errors; undefined when libuv does not know it. */
  errnoText(negativeErrno: number): [string, string] | undefined;
  constants: {
    LOCK_SH: number;
    LOCK_EX: number;
    LOCK_NB: number;
    LOCK_UN: number;
    WNOHANG: number;
    WUNTRACED: number;
    WCONTINUED: number;
    WALL: number;
    BPF_PROG_TYPE_CGROUP_DEVICE: number;
    BPF_CGROUP_DEVICE: number;
    BPF_F_ALLOW_MULTI: number;
  };
  flock(fd: number, operation: number, path?: string): void;
  tryFlock(fd: number, operation: number, path?: string): boolean;
  flockAsync(fd: number, operation: number, path?: string): Promise<void>;
  /** fstat(2) of fd: its st_mode, st_uid and st_nlink written into out[0..2]. */
  fstatInto(fd: number, out: Float64Array, path?: string): void;
  kill(pid: number, signal: number): void;
  waitpid(pid: number, options: number): WaitStatus | null;
  waitForExit(pid: number, keepAlive: boolean): Promise<void>;
  /** pipe2(O_CLOEXEC): [read end, write end], each made O_NONBLOCK if asked. */
  pipe(nonBlockingRead: boolean, nonBlockingWrite: boolean): [number, number];
  /**
   * posix_spawn (on a libuv pool thread) of `file` with `argv`, an empty environment, `fds[i]`
   * as descriptor i (and no other; duplicated before this returns), default signal dispositions
   * and an empty mask: the child's pid.
   */
  spawn(file: string, argv: string[], fds: number[]): Promise<number>;
  /** Settles once `fd` is readable or hung up (every writer of a FIFO gone); the fd stays open. */
  waitReadable(fd: number): Promise<void>;
  procStat(pid: number): ProcStat;
  mountRoot(path: string): boolean | null;
  /** A connected AF_UNIX SOCK_SEQPACKET pair, both close-on-exec. */
  seqpacketPair(): [number, number];
  /**
   * A new close-on-exec descriptor of the parent of the pid or user namespace `fd` ("parent",
   * NS_GET_PARENT), or of the user namespace that owns the namespace `fd` ("owner", NS_GET_USERNS).
   */
  namespaceRelative(fd: number, which: 'parent' | 'owner'): number;
  /** recvmsg(2) of one message into `buffer`, with the descriptor it carries (-1: none), close-on-exec. */
  recvWithFd(fd: number, buffer: Buffer): { length: number; fd: number };
  /** Connects to the unix stream socket `path`, sends `payload` with `fd` attached (SCM_RIGHTS), closes. */
  sendFdTo(path: string, payload: string, fd: number): void;
  /** A unix stream socket bound to `path`, listening; close-on-exec and non-blocking. */
  listenUnix(path: string): number;
  /** accept4(2) of the connection waiting on the listening socket `fd`, close-on-exec (EAGAIN: none). */
  acceptConnection(fd: number): number;
  /** TIOCGWINSZ: the terminal `fd`'s size, [rows, columns]. */
  windowSize(fd: number): [number, number];
  /** TIOCSWINSZ: the terminal `fd`'s size. */
  setWindowSize(fd: number, rows: number, columns: number): void;
  /** The terminal `fd` made raw (cfmakeraw), and its attributes as they were (for restoreTerminal). */
  makeRawTerminal(fd: number): Buffer;
  restoreTerminal(fd: number, saved: Buffer): void;
  pidfdOpen(pid: number): number;
  pidfdSendSignal(pidfd: number, signal: number): void;
  setOOMScoreAdj(pid: number, score: number): boolean;
  compileSeccomp(filter: SeccompFilter): { program: Buffer; skipped: string[] };
  /** The libseccomp the addon runs with, "major.minor.micro". */
  seccompVersion(): string;
  /** An O_PATH descriptor (close-on-exec) of a read-only, detached clone of the mount of `path`. */
  readonlyBind(path: string): number;
  /** A close-on-exec memfd named `name` holding a copy of `path`, sealed against any change. */
  sealedCopy(path: string, name: string): number;
  bpfProgLoad(type: number, instructions: Buffer, license: string, log?: Buffer): number;
  bpfProgAttach(targetFd: number, progFd: number, attachType: number, flags: number, path?: string): void;
  bpfProgDetach(targetFd: number, progFd: number, attachType: number, path?: string): void;
  bpfProgQuery(targetFd: number, attachType: number, path?: string): { attachFlags: number; ids: number[] };
  bpfProgGetFdById(id: number): number;
}

function load(): NativeBinding {
  // From src/ (tests), dist/ (the library), dist/cli.js and dist/bench-worker.js alike. Loaded
  // by process.dlopen, which require() of a .node file ends in: its search for the file (an
  // absolute path here) and module bookkeeping cost every command ~0.2 ms. (A second load in
  // one process initializes the addon again, as require() of another copy of this file would.)
  const addon = { exports: {} as NativeBinding };
  process.dlopen(addon, addonFile());
  const binding = addon.exports;
  binding.initialize(ErrnoError);
  useErrnoTable(binding.errnoText);
  return binding;
}

export const native: NativeBinding = load();
