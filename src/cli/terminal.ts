// A foreground run or exec of a terminal process: this program stands between its own stdio
// and the terminal's master, as runc's foreground run and exec do (its tty.go). Our stdin (raw,
// when it is a terminal) is typed into the master, what the master prints goes to our stdout,
// and our terminal's size follows to the container's (TIOCSWINSZ: the kernel sends SIGWINCH to
// the foreground process group there, so ours is not forwarded).
import * as fs from 'node:fs';
import type * as Tty from 'node:tty';
import { isErrno } from '../sys/errno';
import { native } from '../sys/native';

/**
 * How long output is still copied once the process has exited, when something else in the
 * container holds the terminal open (a job it left in the background): what was printed before
 * the exit is read by then, and the caller does not wait on that job.
 */
const DRAIN_AFTER_EXIT_MS = 200;

export interface TerminalCopy {
  /**
   * Once the process has exited: copies what is left of its output (until the terminal hangs
   * up, every holder of its slave gone, or DRAIN_AFTER_EXIT_MS), closes the master and puts
   * our terminal back as it was.
   */
  finish(): Promise<void>;
}

/**
 * The size of our terminal (that of stdout, as runc takes it), for the process's to start
 * with; none when stdout is not a terminal. One ioctl: no stream of Node's is made for it.
 */
export function callerTerminalSize(): { height: number; width: number } | undefined {
  try {
    const [height, width] = native.windowSize(1);
    return { height, width };
  } catch (error) {
    if (isErrno(error, 'ENOTTY') || isErrno(error, 'EBADF')) return undefined;
    throw error;
  }
}

/** Starts copying between this program's stdio and `master`, which it takes over. */
export function copyTerminal(master: number): TerminalCopy {
  // Reads wait for readiness in the event loop. Writes go through libuv's pool, one at a time:
  // the master is a blocking descriptor (libuv leaves a master so), and a process that does not
  // read its input would otherwise block the whole loop, and with it its output. (node:tty is
  // loaded here: with node:net behind it, it costs a command that needs no terminal ~1 ms.)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tty = require('node:tty') as typeof Tty;
  const output = new tty.ReadStream(master);
  const closed = new Promise<void>((resolve) => output.once('close', () => resolve()));
  output.on('error', () => {}); // EIO: the slave hung up, the end of the output ('close' follows)
  output.pipe(process.stdout, { end: false });

  let typing = Promise.resolve();
  const typeIn = (chunk: Buffer) => {
    typing = typing.then(() => writeAll(master, chunk)).catch(() => {}); // gone: the output ends too
  };
  const stdin = process.stdin;
  // Raw as runc makes it (cfmakeraw): keys go to the container's terminal as typed, and its
  // output (already \r\n there) comes out unchanged. Node's setRawMode keeps output processing,
  // which would turn each \r\n into \r\r\n. Node puts the terminal back at exit whatever
  // happens (it keeps the attributes it found at start-up).
  const saved = stdin.isTTY === true ? native.makeRawTerminal(0) : undefined;
  stdin.on('data', typeIn);

  const resize = () => {
    if (process.stdout.isTTY) native.setWindowSize(master, process.stdout.rows, process.stdout.columns);
  };
  resize();
  process.stdout.on('resize', resize);

  return {
    async finish() {
      process.stdout.off('resize', resize);
      stdin.off('data', typeIn);
      stdin.pause();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_AFTER_EXIT_MS)))]);
      clearTimeout(timer);
      output.destroy(); // closes the master
      await closed;
      if (saved !== undefined) native.restoreTerminal(0, saved);
    },
  };
}

function writeAll(fd: number, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.write(fd, data, (error, written) => {
      if (error) reject(error);
      else if (written < data.length) writeAll(fd, data.subarray(written)).then(resolve, reject);
      else resolve();
    });
  });
}
