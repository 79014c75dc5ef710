// Reading a FIFO without node:net: a descriptor opened O_NONBLOCK is read when the event loop
// says it is readable (the addon's waitReadable, a libuv poll), so `start` waits for the
// gofer's answer without loading net and stream (~3 ms of every start, issue 13), and without
// polling on a timer.
import * as fs from 'node:fs';
import { isErrno } from './errno';
import { native } from './native';
import { validateInteger } from './validate';

/** Settles once `fd` is readable or every writer is gone. */
export function waitReadable(fd: number): Promise<void> {
  try {
    return native.waitReadable(validateInteger(fd, 'fd', 0));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * The first line (without its newline, or a trailing \r) from the non-blocking descriptor `fd`
 * of a FIFO; what came before the end of file if no newline did; undefined at an end of file
 * with nothing before it. Reads nothing after the line's chunk is in: for a one-line reply.
 */
export async function readFirstLine(fd: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  const buffer = Buffer.allocUnsafe(4096);
  for (;;) {
    await waitReadable(fd);
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, buffer, 0, buffer.length, null);
      } catch (error) {
        if (isErrno(error, 'EAGAIN')) break; // woken, and someone else had it: wait again
        throw error;
      }
      if (n === 0) return chunks.length === 0 ? undefined : Buffer.concat(chunks).toString('utf8');
      const chunk = Buffer.from(buffer.subarray(0, n));
      const newline = chunk.indexOf(0x0a);
      if (newline !== -1) {
        chunks.push(chunk.subarray(0, newline));
        const line = Buffer.concat(chunks).toString('utf8');
        return line.endsWith('\r') ? line.slice(0, -1) : line;
      }
      chunks.push(chunk);
    }
  }
}
