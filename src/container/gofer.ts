// The CLI's end of runcell-init's protocol (protocol.ts): the gofer during create, its start
// gate, and the exec helper. Callers see typed reports, never lines.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { lineReader } from '../lines';
import { readFirstLine } from '../sys/fifo';
import { initExecutable } from './init-binary';
import { encodePlan, type LaunchPlan } from './launch-plan';
import {
  formatAbort, formatCgroupPlaced, formatCommit, formatContinue, formatStartGate, parseReport, type Report,
} from './protocol';

/** A running `runcell-init gofer`, until create commits or fails. */
export class Gofer {
  private readonly control: net.Socket;
  private readonly reports: () => Promise<string | undefined>;

  private constructor(readonly process: ChildProcess, planFd: number) {
    this.control = process.stdio[planFd] as net.Socket;
    this.reports = lineReader(process.stdio[planFd + 1] as net.Socket);
  }

  /**
   * Starts the gofer with `stdio` as its descriptors 0..planFd-1 and `extra` after its plan
   * (planFd) and report (planFd + 1) pipes; resolves once it runs.
   */
  static async spawn(stdio: number[], planFd: number, extra: number[]): Promise<Gofer> {
    const init = initExecutable();
    const child = spawn(init.file, ['gofer', String(planFd), String(planFd + 1)], {
      argv0: init.argv0,
      stdio: [...stdio, 'pipe', 'pipe', ...extra],
      env: {},
    });
    const gofer = new Gofer(child, planFd);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return gofer;
  }

  get pid(): number {
    return this.process.pid!;
  }

  sendPlan(plan: LaunchPlan): void {
    this.control.write(encodePlan(plan));
  }

  /** Its next report; undefined when it exited without one. */
  async nextReport(): Promise<Report | undefined> {
    const line = await this.reports();
    return line === undefined ? undefined : parseReport(line);
  }

  /** After a "cgroup" report: the init is placed. */
  cgroupPlaced(): void {
    this.control.write(formatCgroupPlaced());
  }

  /** After a "hooks" report: the runtime's hooks ran, `state` goes to the createContainer hooks. */
  continueHooks(state: string): void {
    this.control.write(formatContinue(state));
  }

  /** After a "hooks" report: the runtime's hooks failed. */
  abort(): void {
    this.control.write(formatAbort());
  }

  /** The container is recorded: the gofer keeps the init. Resolves once the line is written. */
  async commit(): Promise<void> {
    this.control.end(formatCommit());
    await new Promise<void>((resolve) => this.control.once('finish', () => resolve()));
  }

  /** The gofer outlives this process: nothing of ours may keep it, or keep the event loop alive. */
  detach(): void {
    for (const stream of this.process.stdio) stream?.destroy();
    this.process.unref();
  }
}

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

/**
 * Runs `runcell-init exec PLAN REPORT` with `stdio` (0, 1, 2 and the preserved descriptors),
 * then its plan and report pipes, then `extra`; its one report, undefined when it exited
 * without one. Resolves once it has exited.
 */
export async function runExecHelper(plan: LaunchPlan, stdio: number[], extra: number[]): Promise<Report | undefined> {
  const planFd = stdio.length;
  const init = initExecutable();
  const helper = spawn(init.file, ['exec', String(planFd), String(planFd + 1)], {
    argv0: init.argv0,
    stdio: [...stdio, 'pipe', 'pipe', ...extra],
    env: {},
  });
  const exited = new Promise<void>((resolve) => helper.once('close', () => resolve()));
  (helper.stdio[planFd] as net.Socket).end(encodePlan(plan));
  const line = await lineReader(helper.stdio[planFd + 1] as net.Socket)();
  await exited;
  return line === undefined ? undefined : parseReport(line);
}
