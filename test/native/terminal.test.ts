// The addon's calls behind a foreground terminal (src/container/console-receiver.ts,
// src/cli/terminal.ts): a console socket of our own, and a terminal's size and mode. Errors are
// ErrnoErrors as Node's own, naming the system call and the path.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrnoError } from '../../src';
import { native } from '../../src/sys/native';
import { tempDir } from '../helpers/env';

const open: number[] = [];
afterEach(() => {
  for (const fd of open.splice(0)) fs.closeSync(fd);
});
const keep = (fd: number) => (open.push(fd), fd);

function thrown(fn: () => unknown): ErrnoError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ErrnoError);
    return error as ErrnoError;
  }
  throw new Error('expected a throw');
}

describe('console socket', () => {
  it('receives a descriptor sent to it (as the gofer sends a terminal\'s master) with its payload', () => {
    const socketPath = path.join(tempDir(), 'socket');
    const listening = keep(native.listenUnix(socketPath));
    expect(thrown(() => native.acceptConnection(listening))).toMatchObject({ code: 'EAGAIN', syscall: 'accept4' }); // nobody yet
    const [readEnd, writeEnd] = native.pipe(false, false).map(keep);
    native.sendFdTo(socketPath, '/dev/ptmx', writeEnd);
    const connection = keep(native.acceptConnection(listening));
    const buffer = Buffer.alloc(64);
    const { length, fd } = native.recvWithFd(connection, buffer);
    keep(fd);
    expect(buffer.toString('utf8', 0, length)).toBe('/dev/ptmx');
    // The descriptor that came is the pipe's write end: what goes in comes out of the read end.
    fs.writeSync(fd, 'through the copy');
    const out = Buffer.alloc(64);
    expect(out.toString('utf8', 0, fs.readSync(readEnd, out))).toBe('through the copy');
  });

  it('names the path when it cannot listen there', () => {
    const dir = tempDir();
    const taken = path.join(dir, 'taken');
    keep(native.listenUnix(taken));
    expect(thrown(() => native.listenUnix(taken))).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', path: taken });
    const long = path.join(dir, 'x'.repeat(120));
    expect(thrown(() => native.listenUnix(long))).toMatchObject({ code: 'ENAMETOOLONG', syscall: 'bind', path: long });
  });
});

describe('terminal size and mode', () => {
  it('sets and reads a terminal\'s size, and makes it raw and back', () => {
    const master = keep(fs.openSync('/dev/ptmx', fs.constants.O_RDWR | fs.constants.O_NOCTTY));
    native.setWindowSize(master, 33, 101);
    expect(native.windowSize(master)).toEqual([33, 101]);
    const original = native.makeRawTerminal(master);
    const raw = native.makeRawTerminal(master); // what the first call left
    expect(raw.equals(original)).toBe(false);
    native.restoreTerminal(master, original);
    expect(native.makeRawTerminal(master).equals(original)).toBe(true);
  });

  it('refuses what is not a terminal with ENOTTY, naming the call', () => {
    const file = keep(fs.openSync(path.join(tempDir(), 'plain'), 'w'));
    expect(thrown(() => native.windowSize(file))).toMatchObject({ code: 'ENOTTY', syscall: 'ioctl' });
    expect(thrown(() => native.setWindowSize(file, 1, 1))).toMatchObject({ code: 'ENOTTY', syscall: 'ioctl' });
    expect(thrown(() => native.makeRawTerminal(file))).toMatchObject({ code: 'ENOTTY', syscall: 'tcgetattr' });
    expect(thrown(() => native.restoreTerminal(file, Buffer.alloc(3)))).toMatchObject({ code: 'EINVAL', syscall: 'tcsetattr' });
  });
});
