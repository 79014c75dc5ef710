// A created container's start gate, from the side of `start`: apart from gofer.ts (create's
// side, which spawns runcell-init and sends it the launch plan) so that start loads neither.
import * as fs from 'node:fs';
import { readFirstLine } from '../sys/fifo';
import { formatStartGate, parseReport, type Report } from './protocol';

/**
 * Opens a created container's start gate (its FIFOs `gatePath` and `readyPath`) with the
 * state for startContainer hooks; the gofer's answer, undefined when it gave none. Throws
 * `goferGone(error)` when no gofer holds the gate.
 */
export async function openStartGate(gatePath: string, readyPath: string, state: string,
  goferGone: (error: unknown) => Error, processState?: string): Promise<Report | undefined> {
  // The reply FIFO first: the gofer answers on it as soon as the gate's line is in. The gofer
  // holds its write end from create on, so its end of file means that the gofer is gone.
  const ready = openFifo(readyPath, fs.constants.O_RDONLY);
  try {
    let gate: number;
    try {
      gate = openFifo(gatePath, fs.constants.O_WRONLY);
    } catch (error) {
      throw goferGone(error);
    }
    try {
      fs.writeSync(gate, formatStartGate(state, processState));
    } finally {
      fs.closeSync(gate);
    }
    const line = await readFirstLine(ready);
    return line === undefined ? undefined : parseReport(line);
  } finally {
    fs.closeSync(ready);
  }
}

// Never through a symlink, and only a FIFO: what start writes to the gate must not land in a
// file planted in its place.
function openFifo(file: string, mode: number): number {
  const fd = fs.openSync(file, mode | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
  if (!fs.fstatSync(fd).isFIFO()) {
    fs.closeSync(fd);
    throw Object.assign(new Error(`'${file}' is not a FIFO`), { code: 'EINVAL' });
  }
  return fd;
}
