// ErrnoError must be indistinguishable from Node core's own system errors in every field a
// program reads: code, errno (negative), syscall, path, message, and key order.
import * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ErrnoError, isErrno, kill } from '../../src';
import { native } from '../../src/sys/native';

function catchError(fn: () => unknown): NodeJS.ErrnoException {
  try {
    fn();
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error('expected a throw');
}

describe('ErrnoError', () => {
  it('has the shape of fs errors', () => {
    const nodeError = catchError(() => fs.openSync('/nonexistent/runcell', 'r'));
    const ours = new ErrnoError(2, 'open', '/nonexistent/runcell');
    expect(ours.message).toBe(nodeError.message);
    expect(Object.keys(ours)).toEqual(Object.keys(nodeError));
    expect({ ...ours }).toEqual({ ...nodeError });
    expect(ours).toBeInstanceOf(Error);
    expect(ours.name).toBe('ErrnoError');
  });

  it('accepts errno given negative, as Node reports it', () => {
    expect({ ...new ErrnoError(-11, 'flock') }).toEqual({ ...new ErrnoError(11, 'flock') });
  });

  it('names EWOULDBLOCK as EAGAIN, as Node does', () => {
    const error = new ErrnoError(11, 'flock', '/run/runcell/a_sandbox:a.lock');
    expect(error.code).toBe('EAGAIN');
    expect(error.errno).toBe(-11);
    expect(error.message).toBe("EAGAIN: resource temporarily unavailable, flock '/run/runcell/a_sandbox:a.lock'");
  });

  it('leaves path out when there is none, as fs.fsync does', () => {
    const nodeError = catchError(() => fs.fsyncSync(987654));
    const ours = new ErrnoError(9, 'fsync');
    expect(ours.message).toBe(nodeError.message);
    expect(Object.keys(ours)).toEqual(Object.keys(nodeError));
    expect('path' in ours).toBe(false);
  });

  it('is what the addon throws', () => {
    const error = catchError(() => kill(2 ** 22 + 1, 0));
    expect(error).toBeInstanceOf(ErrnoError);
    expect(isErrno(error, 'ESRCH')).toBe(true);
  });

  it('isErrno recognises Node errors and rejects other values', () => {
    expect(isErrno(catchError(() => fs.readFileSync('/nonexistent')), 'ENOENT')).toBe(true);
    expect(isErrno(new Error('x'))).toBe(false);
    expect(isErrno({ code: 'ENOENT' })).toBe(false);
    expect(isErrno(null)).toBe(false);
  });

  it('words every errno as Node does, from libuv\'s table through the addon', () => {
    // The addon's errnoText (what ErrnoError reads) against Node's own map of the same table.
    for (const [errno, [code, text]] of getSystemErrorMap()) {
      expect(native.errnoText(errno)).toEqual([code, text]);
      expect(new ErrnoError(errno, 'x').message).toBe(`${code}: ${text}, x`);
    }
    // One libuv does not know: Linux's own name, glibc's words.
    expect(native.errnoText(-osConstants.errno.ECHILD)).toBeUndefined();
    expect(new ErrnoError(osConstants.errno.ECHILD, 'waitpid').message).toBe('ECHILD: no child processes, waitpid');
  });
});
