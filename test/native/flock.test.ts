import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrnoError, flock, flockAsync, tryFlock, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN } from '../../src';
import { startWorker, tempDir } from '../helpers/env';
import { fileFacts } from '../../src/sys/flock';

let dir: string;
let file: string;
const fds: number[] = [];

function open(): number {
  const fd = fs.openSync(file, 'r');
  fds.push(fd);
  return fd;
}

beforeEach(() => {
  dir = tempDir();
  file = path.join(dir, 'x.lock');
  fs.writeFileSync(file, '');
});

afterEach(() => {
  for (const fd of fds.splice(0)) fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
});

function expectErrno(fn: () => unknown, fields: Partial<ErrnoError>): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ErrnoError);
  expect(caught).toMatchObject(fields);
}

describe('flock', () => {
  it('exports the Linux constants', () => {
    expect({ LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN }).toEqual({ LOCK_SH: 1, LOCK_EX: 2, LOCK_NB: 4, LOCK_UN: 8 });
  });

  it('excludes another open file description, and LOCK_NB reports EAGAIN with the path', () => {
    const a = open();
    const b = open();
    flock(a, LOCK_EX, file);
    expectErrno(() => flock(b, LOCK_EX | LOCK_NB, file), {
      code: 'EAGAIN', errno: -11, syscall: 'flock', path: file,
      message: `EAGAIN: resource temporarily unavailable, flock '${file}'`,
    });
    flock(a, LOCK_UN);
    flock(b, LOCK_EX | LOCK_NB);
  });

  it('shares LOCK_SH between holders and excludes LOCK_EX', () => {
    const a = open();
    const b = open();
    const c = open();
    flock(a, LOCK_SH);
    flock(b, LOCK_SH | LOCK_NB);
    expect(tryFlock(c, LOCK_EX)).toBe(false);
  });

  it('reports EBADF for a closed descriptor, without a path unless given', () => {
    const fd = fs.openSync(file, 'r');
    fs.closeSync(fd);
    expectErrno(() => flock(fd, LOCK_EX), { code: 'EBADF', errno: -9, syscall: 'flock' });
    expectErrno(() => flock(fd, LOCK_EX, file), { code: 'EBADF', path: file });
  });

  it('rejects arguments of the wrong type or value before any system call', () => {
    expect(() => flock('3' as unknown as number, LOCK_EX)).toThrow(TypeError);
    expect(() => flock(open(), 3)).toThrow(/operation/);
    expect(() => flock(-1, LOCK_EX)).toThrow(RangeError);
  });
});

describe('tryFlock', () => {
  it('returns true when granted and false (no exception) when held elsewhere', () => {
    const a = open();
    const b = open();
    expect(tryFlock(a, LOCK_EX)).toBe(true);
    expect(tryFlock(b, LOCK_EX)).toBe(false);
    expect(tryFlock(b, LOCK_SH)).toBe(false);
    flock(a, LOCK_UN);
    expect(tryFlock(b, LOCK_EX)).toBe(true);
  });

  it('sees a lock held by another process', async () => {
    const holder = startWorker('hold-lock', [file], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    try {
      expect(tryFlock(open(), LOCK_EX)).toBe(false);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    // The kernel released the dead holder's lock.
    expect(tryFlock(open(), LOCK_EX)).toBe(true);
  });

  it('throws for failures other than contention', () => {
    const fd = fs.openSync(file, 'r');
    fs.closeSync(fd);
    expectErrno(() => tryFlock(fd, LOCK_EX, file), { code: 'EBADF', syscall: 'flock', path: file });
  });
});

describe('flockAsync', () => {
  it('resolves once the holder releases', async () => {
    const a = open();
    const b = open();
    flock(a, LOCK_EX);
    let acquired = false;
    const waiting = flockAsync(b, LOCK_EX).then(() => (acquired = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(acquired).toBe(false);
    flock(a, LOCK_UN);
    await waiting;
    expect(acquired).toBe(true);
    expect(tryFlock(a, LOCK_EX)).toBe(false);
  });

  it('keeps the libuv threadpool free: 8 waiters, and fs.promises still works', async () => {
    const holder = open();
    flock(holder, LOCK_EX);
    const order: number[] = [];
    const waiters = Array.from({ length: 8 }, (_, i) => {
      const fd = open();
      return flockAsync(fd, LOCK_EX, file).then(() => {
        order.push(i);
        flock(fd, LOCK_UN); // hand the lock on to the next waiter
      });
    });
    // With flock on the threadpool (fs-ext), 4 waiters would take every thread and this read
    // would never finish.
    const started = Date.now();
    const text = await fs.promises.readFile(file, 'utf8');
    expect(text).toBe('');
    await fs.promises.stat(dir);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(order).toEqual([]);
    flock(holder, LOCK_UN);
    await Promise.all(waiters);
    expect(order.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('rejects with an ErrnoError rather than throwing', async () => {
    const fd = fs.openSync(file, 'r');
    fs.closeSync(fd);
    const promise = flockAsync(fd, LOCK_EX, file);
    expect(promise).toBeInstanceOf(Promise);
    await expect(promise).rejects.toMatchObject({ code: 'EBADF', syscall: 'flock', path: file });
    await expect(flockAsync('x' as unknown as number, LOCK_EX)).rejects.toThrow(TypeError);
  });
});

describe('fileFacts', () => {
  it('is what fstat says of the file: its mode, owner and link count', () => {
    const fd = open();
    const linked = path.join(dir, 'second-link');
    fs.linkSync(file, linked);
    fs.chmodSync(file, 0o640);
    const facts = fileFacts(fd);
    const stat = fs.fstatSync(fd);
    expect(facts).toEqual({ mode: stat.mode, uid: stat.uid, nlink: 2 });
    fs.unlinkSync(linked);
    fs.unlinkSync(file);
    expect(fileFacts(fd).nlink).toBe(0);
  });

  it('throws an ErrnoError naming fstat and the path', () => {
    const fd = fs.openSync(file, 'r');
    fs.closeSync(fd);
    expectErrno(() => fileFacts(fd, file), { code: 'EBADF', syscall: 'fstat', path: file });
  });
});
