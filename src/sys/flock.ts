// flock(2): advisory whole-file locks, released by the kernel when the last descriptor of the
// open file description closes, so a crashed holder never leaves a lock behind.
import { native } from './native';
import { validateInteger } from './validate';

export const { LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN } = native.constants;

function checkOperation(operation: unknown): number {
  const op = validateInteger(operation, 'operation');
  const kind = op & ~LOCK_NB;
  if (kind !== LOCK_SH && kind !== LOCK_EX && kind !== LOCK_UN) {
    throw new RangeError(`The value of "operation" is invalid: expected LOCK_SH, LOCK_EX or LOCK_UN (optionally | LOCK_NB). Received ${op}`);
  }
  return op;
}

/**
 * Applies or removes a lock, blocking the thread until it is granted unless LOCK_NB is given
 * (then a held lock throws EAGAIN). EINTR is retried; any other failure throws an ErrnoError.
 * `path` only names the file in an error message.
 */
export function flock(fd: number, operation: number, path?: string): void {
  native.flock(validateInteger(fd, 'fd', 0), checkOperation(operation), path);
}

/** Like flock with LOCK_NB, but a lock held elsewhere returns false instead of throwing. */
export function tryFlock(fd: number, operation: number, path?: string): boolean {
  return native.tryFlock(validateInteger(fd, 'fd', 0), checkOperation(operation), path);
}

/**
 * Waits for the lock without blocking the event loop and without the libuv threadpool (each
 * waiting call has a thread of its own), so any number of waiters leave `fs` working.
 */
export function flockAsync(fd: number, operation: number, path?: string): Promise<void> {
  try {
    return native.flockAsync(validateInteger(fd, 'fd', 0), checkOperation(operation), path);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** What the state file checks of an open file: its type and mode bits, owner and link count. */
export interface FileFacts {
  mode: number;
  uid: number;
  nlink: number;
}

const factsBuffer = new Float64Array(3);

/**
 * fstat(2) of `fd`, its mode, owner and link count only: a state file's every load checks two
 * descriptors so (~0.5 µs each less than fs.fstatSync, which builds a whole fs.Stats).
 */
export function fileFacts(fd: number, path?: string): FileFacts {
  native.fstatInto(validateInteger(fd, 'fd', 0), factsBuffer, path);
  return { mode: factsBuffer[0], uid: factsBuffer[1], nlink: factsBuffer[2] };
}
