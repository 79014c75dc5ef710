// The CLI's end of runcell-init's protocol (protocol.ts): the gofer during create, its start
// gate, and the exec helper. Callers see typed reports, never lines.
import * as fs from 'node:fs';
import { isErrno } from '../sys/errno';
import { LineReader } from '../sys/fifo';
import { reapChild } from '../sys/process';
import { pipe, spawnProcess } from '../sys/spawn';
import { initExecutable } from './init-binary';
import { encodePlan, type LaunchPlan } from './launch-plan';
import {
  formatAbort, formatCgroupPlaced, formatCommit, formatContinue, parseReport, type Report,
} from './protocol';

/** A running `runcell-init gofer`, until create commits or fails. */
export class Gofer {
  private readonly reports: LineReader;
  private closed = false;

  // control: our end of its plan pipe (blocking); reportFd: ours of its report pipe (non-blocking).
  private constructor(readonly pid: number, private readonly control: number, private readonly reportFd: number) {
    this.reports = new LineReader(reportFd);
  }

  /**
   * Starts the gofer with `stdio` as its descriptors 0..planFd-1 and `extra` after its plan
   * (planFd) and report (planFd + 1) pipes. Through the addon's posix_spawn, not
   * node:child_process (see sys/spawn.ts); it is reaped when it exits, without keeping this
   * process alive for it.
   */
  static async spawn(stdio: number[], planFd: number, extra: number[]): Promise<Gofer> {
    const { pid, planWrite, reportRead } = await spawnInitRole('gofer', stdio, planFd, extra);
    reapChild(pid, { keepAlive: false }).catch(() => {});
    return new Gofer(pid, planWrite, reportRead);
  }

  sendPlan(plan: LaunchPlan): void {
    this.send(encodePlan(plan));
  }

  /** Its next report; undefined when it exited without one. */
  async nextReport(): Promise<Report | undefined> {
    const line = await this.reports.next();
    return line === undefined ? undefined : parseReport(line);
  }

  /** After a "cgroup" report: the init is placed. */
  cgroupPlaced(): void {
    this.send(formatCgroupPlaced());
  }

  /** After a "hooks" report: the runtime's hooks ran, `state` goes to the createContainer hooks. */
  continueHooks(state: string): void {
    this.send(formatContinue(state));
  }

  /** After a "hooks" report: the runtime's hooks failed. */
  abort(): void {
    this.send(formatAbort());
  }

  /** The container is recorded: the gofer keeps the init. Throws (EPIPE) when it is gone. */
  commit(): void {
    this.send(formatCommit());
  }

  /** The gofer outlives this process: nothing of ours may keep it. */
  detach(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.control);
    fs.closeSync(this.reportFd);
  }

  // A whole message, on a blocking pipe the gofer reads as it comes (a plan larger than the
  // pipe's buffer waits for it to read). A gofer that is gone fails it with EPIPE (Node ignores
  // SIGPIPE).
  private send(message: string | Buffer): void {
    const data = typeof message === 'string' ? Buffer.from(message) : message;
    for (let done = 0; done < data.length;) done += fs.writeSync(this.control, data, done, data.length - done);
  }
}

/**
 * Runs `runcell-init exec PLAN REPORT` with `stdio` (0, 1, 2 and the preserved descriptors),
 * then its plan and report pipes, then `extra`; its one report, undefined when it exited
 * without one. Resolves once it has exited.
 */
export async function runExecHelper(plan: LaunchPlan, stdio: number[], extra: number[]): Promise<Report | undefined> {
  // Through the addon's posix_spawn, as the gofer (see sys/spawn.ts): node:child_process (with
  // net and stream) costs ~4 ms to load in every exec.
  const { pid, planWrite, reportRead } = await spawnInitRole('exec', stdio, stdio.length, extra);
  const exited = reapChild(pid);
  try {
    try {
      // On a blocking pipe the helper reads to its end; one gone fails it with EPIPE (Node
      // ignores SIGPIPE), and its report, or none, says why.
      const data = encodePlan(plan);
      for (let done = 0; done < data.length;) done += fs.writeSync(planWrite, data, done, data.length - done);
    } catch (error) {
      if (!isErrno(error, 'EPIPE')) throw error;
    } finally {
      fs.closeSync(planWrite);
    }
    const line = await new LineReader(reportRead).next();
    await exited;
    return line === undefined ? undefined : parseReport(line);
  } finally {
    fs.closeSync(reportRead);
  }
}

/**
 * Starts `runcell-init ROLE PLAN REPORT` with `stdio` as its descriptors 0..planFd-1, then its
 * plan (planFd) and report (planFd + 1) pipes, then `extra`. Returns our ends: the plan's write
 * end (blocking) and the report's read end (non-blocking).
 */
async function spawnInitRole(role: 'gofer' | 'exec', stdio: number[], planFd: number, extra: number[]):
  Promise<{ pid: number; planWrite: number; reportRead: number }> {
  const init = initExecutable();
  const [planRead, planWrite] = pipe();
  let reportRead = -1;
  let reportWrite = -1;
  let spawned: Promise<number>;
  try {
    [reportRead, reportWrite] = pipe({ nonBlockingRead: true });
    spawned = spawnProcess(init.file, [init.argv0, role, String(planFd), String(planFd + 1)], [...stdio, planRead, reportWrite, ...extra]);
  } catch (error) {
    fs.closeSync(planWrite);
    if (reportRead !== -1) fs.closeSync(reportRead);
    throw error;
  } finally {
    // The child's ends are the child's alone (it has its copies): its exit must read as our end
    // of file.
    fs.closeSync(planRead);
    if (reportWrite !== -1) fs.closeSync(reportWrite);
  }
  try {
    return { pid: await spawned, planWrite, reportRead };
  } catch (error) {
    fs.closeSync(planWrite);
    fs.closeSync(reportRead);
    throw error;
  }
}
