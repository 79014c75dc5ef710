// ErrnoError: a failed system call, shaped exactly as Node core reports its own (uvException in
// lib/internal/errors.js), so code written against `fs` errors works on ours:
//
//   err.code     'EAGAIN'            (on Linux EWOULDBLOCK is the same number and is named EAGAIN)
//   err.errno    -11                 (negative, as Node reports it)
//   err.syscall  'flock'
//   err.path     '/run/runcell/a_sandbox:a.lock'   (only when there is one)
//   err.message  "EAGAIN: resource temporarily unavailable, flock '/run/runcell/a_sandbox:a.lock'"
//
// The class is defined here once and constructed from C++ (native/addon/errno_error.cc).
import { getSystemErrorMap, getSystemErrorName } from 'node:util';

export class ErrnoError extends Error {
  declare errno: number;
  declare code: string;
  declare syscall: string;
  declare path?: string;
  declare dest?: string;

  /** `errno` may be given positive (as C sees it) or negative (as Node reports it). */
  constructor(errno: number, syscall: string, path?: string, dest?: string) {
    const negative = -Math.abs(errno);
    const [code, description] = describe(negative);
    let message = `${code}: ${description}, ${syscall}`;
    if (path !== undefined) message += ` '${path}'`;
    if (dest !== undefined) message += ` -> '${dest}'`;
    super(message);
    // Own enumerable properties in Node's order: errno, code, syscall, path, dest.
    this.errno = negative;
    this.code = code;
    this.syscall = syscall;
    if (path !== undefined) this.path = path;
    if (dest !== undefined) this.dest = dest;
  }
}
Object.defineProperty(ErrnoError.prototype, 'name', {
  value: 'ErrnoError',
  enumerable: false,
  writable: true,
  configurable: true,
});

// libuv's table (what Node uses) lacks some Linux errnos that system calls here can return,
// ECHILD from waitpid first of all. Their names come from os.constants.errno, their texts from
// glibc's strerror, lower-cased as libuv words its own.
const LINUX_ONLY_DESCRIPTIONS: Record<string, string> = {
  EBADMSG: 'bad message', ECHILD: 'no child processes', EDEADLK: 'resource deadlock avoided',
  EDOM: 'numerical argument out of domain', EDQUOT: 'disk quota exceeded', EIDRM: 'identifier removed',
  EINPROGRESS: 'operation now in progress', EMULTIHOP: 'multihop attempted', ENETRESET: 'network dropped connection on reset',
  ENOEXEC: 'exec format error', ENOLCK: 'no locks available', ENOLINK: 'link has been severed',
  ENOMSG: 'no message of desired type', ENOSR: 'out of streams resources', ENOSTR: 'device not a stream',
  ESTALE: 'stale file handle', ETIME: 'timer expired',
};
// Made on the first errno libuv does not know: node:os costs ~0.2 ms to load, which `state`
// and `delete` otherwise never pay.
let errnoNames: Map<number, string> | undefined;
function linuxErrnoNames(): Map<number, string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { constants } = require('node:os') as typeof import('node:os');
  errnoNames ??= new Map(Object.entries(constants.errno).map(([name, number]) => [-number, name]));
  return errnoNames;
}

// libuv's name and text of an errno, from the addon once it is loaded (native.ts): the same
// table as util.getSystemErrorMap(), which builds a Map of every errno on each call (~0.2 ms
// for a process's first error, ~0.03 ms for each after; delete meets a few ESRCH and ENOENT).
let libuvText: ((negativeErrno: number) => [string, string] | undefined) | undefined;

/** Called by native.ts with the addon's errnoText. */
export function useErrnoTable(lookup: (negativeErrno: number) => [string, string] | undefined): void {
  libuvText = lookup;
}

function describe(negativeErrno: number): [string, string] {
  const known = libuvText !== undefined ? libuvText(negativeErrno) : getSystemErrorMap().get(negativeErrno);
  if (known !== undefined) return [known[0], known[1]];
  const name = linuxErrnoNames().get(negativeErrno);
  if (name !== undefined) return [name, LINUX_ONLY_DESCRIPTIONS[name] ?? 'unknown error'];
  return [getSystemErrorName(negativeErrno), 'unknown error'];
}

/** True when `error` is a system error (ours or Node's) with one of the given codes. */
export function isErrno(error: unknown, ...codes: string[]): error is ErrnoError {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && typeof (error as { errno?: unknown }).errno === 'number' &&
    (codes.length === 0 || codes.includes(code));
}
