// Processes: signals, reaping, exit notification and identity.
import * as fs from 'node:fs';
import { isErrno } from './errno';
import { native, type ProcStat, type WaitStatus } from './native';
import { ArgumentError, validateInteger } from './validate';

export type { ProcStat, WaitStatus };
export const { WNOHANG, WUNTRACED, WCONTINUED, WALL } = native.constants;

// Linux's signal names, numbered as the generic ABI numbers them (asm-generic/signal.h), which
// every architecture Node builds for but mips, sparc, alpha and parisc follows; in the order of
// os.constants.signals, whose first name of a number signalName gives (SIGABRT, not SIGIOT).
// Not node:os itself: loading it costs a `kill` by name ~0.2 ms of its ~4 ms of own work.
// (test/native/process.test.ts checks this table against os.constants.signals.)
const GENERIC_SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGIOT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9,
  SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGCHLD: 17, SIGSTKFLT: 16, SIGCONT: 18,
  SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27,
  SIGWINCH: 28, SIGIO: 29, SIGPOLL: 29, SIGPWR: 30, SIGSYS: 31,
};
// The architectures (process.arch) whose signal numbers are the generic ones.
const GENERIC_SIGNAL_ARCHES: readonly string[] = ['x64', 'ia32', 'arm', 'arm64', 'ppc', 'ppc64', 's390', 's390x', 'riscv64', 'loong64'];

let signals: Readonly<Record<string, number>> | undefined;
function signalNumbers(): Readonly<Record<string, number>> {
  signals ??= GENERIC_SIGNAL_ARCHES.includes(process.arch) ? GENERIC_SIGNALS
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    : (require('node:os') as typeof import('node:os')).constants.signals as Record<string, number>;
  return signals;
}

/** The signal names parseSignal knows, with their numbers: os.constants.signals' (for the test that says so). */
export function signalTable(): Readonly<Record<string, number>> {
  return signalNumbers();
}

/** SIGKILL's number, the same on every Linux architecture. */
export const SIGKILL = 9;
const MAX_SIGNAL = 64; // SIGRTMAX on Linux

/**
 * A signal given as a number (9), a numeric string ('9') or a name with or without SIG in any
 * case ('KILL', 'SIGkill'), as runc's kill accepts it. 0 is the existence probe.
 */
export function parseSignal(signal: number | string): number {
  if (typeof signal === 'number') return validateInteger(signal, 'signal', 0, MAX_SIGNAL);
  if (typeof signal !== 'string') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'The "signal" argument must be of type number or string');
  }
  const text = signal.trim();
  if (/^\d+$/.test(text)) {
    const number = Number(text);
    if (number <= MAX_SIGNAL) return number;
  } else {
    const upper = text.toUpperCase();
    const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
    const number = signalNumbers()[name];
    if (number !== undefined) return number;
  }
  throw new ArgumentError('ERR_UNKNOWN_SIGNAL', `Unknown signal: ${signal}`);
}

/** The conventional name of a signal number ('SIGKILL'), or its number as text. */
export function signalName(signal: number): string {
  for (const [name, number] of Object.entries(signalNumbers())) if (number === signal) return name;
  return String(signal);
}

/** kill(2). Throws ErrnoError (ESRCH, EPERM, ...). */
export function kill(pid: number, signal: number | string = 'SIGTERM'): void {
  native.kill(validateInteger(pid, 'pid'), parseSignal(signal));
}

/**
 * waitpid(2) with the status decoded. With WNOHANG, null while the child still runs. Without
 * it the call blocks the thread: use it for children that are known to have exited.
 */
export function waitpid(pid: number, options = 0): WaitStatus | null {
  return native.waitpid(validateInteger(pid, 'pid'), validateInteger(options, 'options', 0));
}

export interface WaitOptions {
  /**
   * false: the wait alone does not keep the event loop (and so the program) alive, as an
   * unref()ed child process: for a process that may outlive us (a container's gofer).
   */
  keepAlive?: boolean;
}

/**
 * Resolves when the process exits, child or not, zombie or reaped; driven by a pidfd on the
 * event loop (no polling). Rejects with ESRCH from pidfd_open when there is no such process.
 */
export function waitForExit(pid: number, options: WaitOptions = {}): Promise<void> {
  try {
    return native.waitForExit(validateInteger(pid, 'pid', 1), options.keepAlive ?? true);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Waits for a child of ours to exit (through a pidfd) and reaps it: its exit code, or
 * 128+signal as shells report it; null when it is not our child, or was reaped already.
 */
export async function reapChild(pid: number, options: WaitOptions = {}): Promise<number | null> {
  await waitForExit(pid, options).catch((error) => {
    if (!isErrno(error, 'ESRCH')) throw error;
  });
  try {
    const status = waitpid(pid, WNOHANG);
    return status === null ? null : status.exitCode ?? 128 + (status.signal ?? 0);
  } catch (error) {
    if (isErrno(error, 'ECHILD')) return null;
    throw error;
  }
}

/** State, parent and start time of a process, from /proc/PID/stat. Throws ENOENT when gone. */
export function processStat(pid: number): ProcStat {
  return native.procStat(validateInteger(pid, 'pid', 1));
}

/** Start time of a process in clock ticks after boot (field 22 of /proc/PID/stat). */
export function processStartTime(pid: number): number {
  return processStat(pid).startTime;
}

/**
 * Whether the process that was `pid` when it had `startTime` still runs. A zombie counts as
 * dead (kill(pid, 0) succeeds on one, and this host's init reaps orphans seconds late), so does
 * a process that has begun to exit, and a pid reused by another process is not the one we
 * recorded.
 */
export function isProcessAlive(pid: number, startTime: number): boolean {
  if (!(pid > 0)) return false;
  let stat: ProcStat;
  try {
    stat = processStat(pid);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ESRCH')) return false;
    throw error;
  }
  return stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X' && (stat.flags & PF_EXITING) === 0;
}

// Set from the first step of exit: a pid namespace's init stays in exit, not yet a zombie, until
// every other process of its namespace is reaped, which the host's init may take seconds to do.
const PF_EXITING = 0x4;

/**
 * Signals the process that was `pid` when it had `startTime`, and only that one: the pidfd
 * pins the process, and its start time is checked after the pidfd is open, so a pid reused in
 * between is never signalled. Returns false when the process is gone (or is someone else now).
 */
export function signalProcess(pid: number, startTime: number, signal: number | string): boolean {
  const number = parseSignal(signal);
  let pidfd: number;
  try {
    pidfd = native.pidfdOpen(validateInteger(pid, 'pid', 1));
  } catch (error) {
    if (isErrno(error, 'ESRCH')) return false;
    throw error;
  }
  try {
    if (!isProcessAlive(pid, startTime)) return false;
    native.pidfdSendSignal(pidfd, number);
    return true;
  } catch (error) {
    if (isErrno(error, 'ESRCH')) return false;
    throw error;
  } finally {
    fs.closeSync(pidfd);
  }
}
