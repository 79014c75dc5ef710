import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ErrnoError, isProcessAlive, kill, parseSignal, processStartTime, processStat, reapChild, signalName, waitForExit, waitpid,
  WNOHANG, WUNTRACED,
} from '../../src';
import { signalTable } from '../../src/sys/process';
import { sleep, startSleeper, tempDir, waitFor } from '../helpers/env';

// A pid that no process has: above pid_max on this kernel family (4194304 is the maximum).
const NO_SUCH_PID = 4194304 + 7;

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

// A child spawned through the addon's own waitpid must not also be reaped by libuv, so these
// tests start children with `sh -c '... & echo $!'` when they reap them themselves: the
// grandchild is then ours to observe but not libuv's.
const leftovers: Array<{ pid?: number; kill(signal: NodeJS.Signals): boolean }> = [];
afterEach(() => {
  for (const proc of leftovers.splice(0)) proc.kill('SIGKILL');
});

function spawnShell(script: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sh = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    leftovers.push(sh);
    sh.stdout!.once('data', (data) => {
      const pid = Number(String(data).trim());
      leftovers.push({ pid, kill: (signal) => { try { process.kill(pid, signal); } catch { /* gone */ } return true; } });
      resolve(pid);
    });
    sh.on('error', reject);
  });
}

describe('kill', () => {
  it('reports ESRCH with the code, errno and syscall of process.kill', () => {
    const ours = catchError(() => kill(NO_SUCH_PID, 0)) as ErrnoError;
    const nodes = catchError(() => process.kill(NO_SUCH_PID, 0)) as NodeJS.ErrnoException;
    expect(ours).toBeInstanceOf(ErrnoError);
    expect({ code: ours.code, errno: ours.errno, syscall: ours.syscall })
      .toEqual({ code: nodes.code, errno: nodes.errno, syscall: nodes.syscall });
    expect(ours.message).toBe('ESRCH: no such process, kill');
  });

  it('delivers signals given by number, name or short name', async () => {
    for (const signal of [9, 'SIGKILL', 'kill', '9'] as const) {
      const child = startSleeper();
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_, s) => resolve(s)));
      kill(child.pid!, signal);
      expect(await exited).toBe('SIGKILL');
    }
  });

  it('rejects unknown signals before any system call', () => {
    expect(() => parseSignal('SIGNOPE')).toThrow(/Unknown signal: SIGNOPE/);
    expect(() => parseSignal(65)).toThrow(RangeError);
    expect(parseSignal('term')).toBe(15);
    expect(parseSignal('SIGUSR1')).toBe(10);
    expect(signalName(15)).toBe('SIGTERM');
  });

  it('knows the signals os.constants.signals names, by the same numbers and in its order', () => {
    // parseSignal does not load node:os (a kill by name would pay for it): its own table must be
    // the one Node was built with, names, numbers and order (signalName gives a number's first name).
    const fromNode = os.constants.signals as Record<string, number>;
    expect(Object.entries(signalTable())).toEqual(Object.entries(fromNode));
    for (const [name, number] of Object.entries(fromNode)) {
      expect(parseSignal(name)).toBe(number);
      expect(parseSignal(name.slice(3).toLowerCase())).toBe(number);
      expect(signalName(number)).toBe(Object.keys(fromNode).find((n) => fromNode[n] === number));
    }
    expect(() => parseSignal('SIGCONSTRUCTOR')).toThrow(/Unknown signal/);
  });
});

describe('waitpid', () => {
  it('reports ECHILD for a process that is not our child', async () => {
    const pid = await spawnShell('sleep 1 & echo $!');
    expect(catchError(() => waitpid(pid, WNOHANG))).toMatchObject({
      code: 'ECHILD', errno: -10, syscall: 'waitpid', message: 'ECHILD: no child processes, waitpid',
    });
  });

  it('decodes exit codes, signals and stops of its own children', () => {
    // Children started with the addon's only caller-visible fork: via child_process with
    // detached stdio, reaped here before libuv's SIGCHLD handler gets to them.
    const child = spawn('sh', ['-c', 'sleep 0.2; exit 7'], { stdio: 'ignore' });
    expect(waitpid(child.pid!, WNOHANG)).toBeNull();
    const status = waitpid(child.pid!, 0);
    expect(status).toEqual({ pid: child.pid, exitCode: 7, signal: null, coreDumped: false, stopped: false, continued: false });

    const sleeper = startSleeper();
    kill(sleeper.pid!, 'SIGSTOP');
    expect(waitpid(sleeper.pid!, WUNTRACED)).toMatchObject({ stopped: true, signal: 19, exitCode: null });
    kill(sleeper.pid!, 'SIGKILL');
    expect(waitpid(sleeper.pid!, 0)).toMatchObject({ stopped: false, signal: 9, exitCode: null, coreDumped: false });
  });
});

describe('waitForExit', () => {
  it('resolves when a process that is not our child exits, and not before', async () => {
    const pid = await spawnShell('sleep 600 & echo $!');
    expect(isProcessAlive(pid, processStartTime(pid))).toBe(true);
    let exited = false;
    const waiting = waitForExit(pid).then(() => (exited = true));
    await sleep(50);
    expect(exited).toBe(false);
    process.kill(pid, 'SIGKILL');
    await waiting;
  });

  it('resolves at once for a zombie', async () => {
    const zombie = await spawnShell('sleep 0.05 & echo $!; exec sleep 30');
    await waitFor(() => processStat(zombie).state === 'Z', 'the unreaped child to become a zombie');
    await waitForExit(zombie);
  });

  it('rejects with ESRCH from pidfd_open when there is no such process', async () => {
    await expect(waitForExit(NO_SUCH_PID)).rejects.toMatchObject({
      code: 'ESRCH', errno: -3, syscall: 'pidfd_open', message: 'ESRCH: no such process, pidfd_open',
    });
  });
});

describe('reapChild', () => {
  // Its statuses (exit codes, 128+signal) are asserted by the run and exec integration tests, on children
  // that libuv does not also reap.
  it('is null for a process that is not our child', async () => {
    const grandchild = Number(execFileSync('sh', ['-c', 'true & echo $!'], { encoding: 'utf8' }));
    expect(await reapChild(grandchild)).toBeNull();
  });
});

describe('processStat and isProcessAlive', () => {
  it('reads state, parent and start time', () => {
    const stat = processStat(process.pid);
    expect(stat.state).toMatch(/^[RS]$/);
    expect(stat.ppid).toBe(process.ppid);
    expect(Number.isInteger(stat.startTime)).toBe(true);
    expect(processStartTime(process.pid)).toBe(stat.startTime);
    // PF_EXITING (0x4) is clear on a live process; the kernel's flags are a positive number.
    expect(stat.flags & 0x4).toBe(0);
    expect(stat.flags).toBeGreaterThan(0);
  });

  it('copes with parentheses and spaces in the command name', async () => {
    // The command name (comm) is the executable's file name: give sleep a hostile one.
    const dir = tempDir();
    const odd = path.join(dir, 'a) b (c');
    fs.copyFileSync('/bin/sleep', odd);
    fs.chmodSync(odd, 0o755);
    const child = spawn(odd, ['5'], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('spawn', resolve));
    const stat = processStat(child.pid!);
    expect(fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8')).toContain('(a) b (c)');
    expect(stat.state).toMatch(/^[RS]$/);
    expect(stat.ppid).toBe(process.pid);
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports ENOENT with the /proc path for a process that does not exist', () => {
    expect(catchError(() => processStat(NO_SUCH_PID))).toMatchObject({
      code: 'ENOENT', syscall: 'open', path: `/proc/${NO_SUCH_PID}/stat`,
    });
    expect(isProcessAlive(NO_SUCH_PID, 1)).toBe(false);
  });

  it('does not take a zombie or a reused pid for the recorded process', async () => {
    const sleeper = startSleeper();
    leftovers.push(sleeper);
    const startTime = processStartTime(sleeper.pid!);
    expect(isProcessAlive(sleeper.pid!, startTime)).toBe(true);
    expect(isProcessAlive(sleeper.pid!, startTime + 1)).toBe(false); // same pid, other process
    const zombie = await spawnShell('sleep 0.05 & echo $!; exec sleep 30');
    await waitFor(() => processStat(zombie).state === 'Z', 'the unreaped child to become a zombie');
    expect(isProcessAlive(zombie, processStartTime(zombie))).toBe(false);
    sleeper.kill('SIGKILL');
  });
});
