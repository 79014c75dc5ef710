// Reading a FIFO or a pipe without node:net: a descriptor opened O_NONBLOCK is read when the
// event loop says it is readable (the addon's waitReadable, a libuv poll), so `start` waits for
// the gofer's answer, and `create` for its reports, without loading net and stream (~3 ms of
// every start, issue 13), and without polling on a timer.
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
 * Successive lines (without their newline, or a trailing \r) from the non-blocking descriptor
 * `fd` of a pipe or FIFO, one per call; what came after the last newline at the end of file,
 * then undefined. Reads only when the caller asks for a line not yet in: nothing is read ahead
 * of a one-line reply. The caller closes `fd`.
 */
export class LineReader {
  private readonly lines: string[] = [];
  private partial: Buffer[] = [];
  private ended = false;
  private readonly buffer = Buffer.allocUnsafe(4096);

  constructor(private readonly fd: number) {}

  async next(): Promise<string | undefined> {
    while (this.lines.length === 0 && !this.ended) {
      await waitReadable(this.fd);
      this.readAvailable();
    }
    return this.lines.shift();
  }

  // Reads what is there, until EAGAIN (woken, and it was gone: wait again), a newline or EOF.
  private readAvailable(): void {
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(this.fd, this.buffer, 0, this.buffer.length, null);
      } catch (error) {
        if (isErrno(error, 'EAGAIN')) return;
        throw error;
      }
      if (n === 0) {
        this.ended = true;
        if (this.partial.length > 0) this.lines.push(Buffer.concat(this.partial).toString('utf8'));
        this.partial = [];
        return;
      }
      let chunk = Buffer.from(this.buffer.subarray(0, n));
      for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a)) {
        const line = Buffer.concat([...this.partial, chunk.subarray(0, newline)]).toString('utf8');
        this.lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
        this.partial = [];
        chunk = chunk.subarray(newline + 1);
      }
      if (chunk.length > 0) this.partial.push(chunk);
      if (this.lines.length > 0) return;
    }
  }
}

/**
 * The first line (without its newline, or a trailing \r) from the non-blocking descriptor `fd`
 * of a FIFO; what came before the end of file if no newline did; undefined at an end of file
 * with nothing before it. For a one-line reply.
 */
export function readFirstLine(fd: number): Promise<string | undefined> {
  return new LineReader(fd).next();
}
