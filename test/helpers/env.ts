// Shared test helpers: temporary roots, child processes, privilege checks.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { processStartTime, StateFile } from '../../src';

export const PROJECT_ROOT = path.resolve(__dirname, '../..');
export const CLI = path.join(PROJECT_ROOT, 'bin/runcell');
export const WORKERS = path.join(PROJECT_ROOT, 'build/test-workers');

export const isRoot = process.getuid?.() === 0;

/** A fresh directory, removed by the returned cleanup. */
export function tempDir(prefix = 'runcell-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Environment for child node processes: without the CA bundle that slows every start. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion, collecting its output. Done when the command exits and its
 * output is drained -- not when its pipes close: a container it created holds them (its stdio
 * is the caller's, as under runc), so they may stay open long after.
 */
export function run(command: string, args: readonly string[], options: SpawnOptions & { input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const stdio = (options.stdio as unknown[] | undefined) ?? [];
    const stdin = options.input === undefined ? 'ignore' : 'pipe';
    const child = spawn(command, args, { env: childEnv(), ...options, stdio: [stdin, 'pipe', 'pipe', ...stdio.slice(3)] as never });
    if (options.input !== undefined) child.stdin!.end(options.input);
    let stdout = '';
    let stderr = '';
    const ended = { stdout: false, stderr: false };
    child.stdout!.on('data', (chunk) => (stdout += chunk)).once('end', () => (ended.stdout = true));
    child.stderr!.on('data', (chunk) => (stderr += chunk)).once('end', () => (ended.stderr = true));
    child.on('error', reject);
    child.once('exit', (code, signal) => {
      const finish = () => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        resolve({ code, signal, stdout, stderr });
      };
      if (ended.stdout && ended.stderr) return finish();
      // What the command wrote before exiting is already in the pipe: give it a moment.
      let waited = 0;
      const poll = setInterval(() => {
        waited += 10;
        if ((ended.stdout && ended.stderr) || waited >= 100) {
          clearInterval(poll);
          finish();
        }
      }, 10);
    });
  });
}

/** Resolves after `ms` milliseconds. Only for pacing, never as the proof that something happened. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `condition()` holds, checking every 10 ms, and fails naming `what` after
 * `timeoutMs`: a wait on the condition itself, not on a guess of how long it takes on a busy
 * machine. The timeout is only the point of giving up.
 */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Runs the CLI. */
export function runcell(args: readonly string[], options: SpawnOptions & { input?: string } = {}): Promise<RunResult> {
  return run(CLI, args, options);
}

/** Starts a bundled test worker (test/workers/NAME.ts) with node. */
export function startWorker(name: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [path.join(WORKERS, `${name}.js`), ...args], { env: childEnv(), ...options });
}

export function runWorker(name: string, args: readonly string[]): Promise<RunResult> {
  return run(process.execPath, [path.join(WORKERS, `${name}.js`), ...args]);
}

/**
 * Live processes to record as a container's: `live()` starts one and returns its identity;
 * `killAll()` (in afterEach) ends them.
 */
export function livePool(): { live(): { pid: number; startTime: number }; killAll(): void } {
  const sleepers: ChildProcess[] = [];
  return {
    live() {
      const sleeper = startSleeper();
      sleepers.push(sleeper);
      return { pid: sleeper.pid!, startTime: processStartTime(sleeper.pid!) };
    },
    killAll() {
      for (const sleeper of sleepers.splice(0)) sleeper.kill('SIGKILL');
    },
  };
}

/** A process that sleeps until killed, and its pid. */
export function startSleeper(seconds = 600): ChildProcess {
  return spawn('sleep', [String(seconds)], { stdio: 'ignore' });
}

/** Effective capabilities of this process include CAP_SYS_RESOURCE (bit 24)? */
export function hasCapSysResource(): boolean {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
  return line !== undefined && (BigInt('0x' + line.split(/\s+/)[1]) & (1n << 24n)) !== 0n;
}

export function commandExists(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A scratch directory with a state root in it, for each test of a file: `onEach(dir, root)`
 * receives them; afterwards the directory is removed.
 */
export function useScratchRoot(onEach: (dir: string, root: string) => void): void {
  useScratchWith(onEach, async () => {});
}

/**
 * For tests that only build launch plans: a bundle directory with an empty rootfs/bin for each
 * test, given to `onEach`, removed afterwards.
 */
export function useScratchBundle(onEach: (bundle: string) => void): void {
  let bundle: string | undefined;
  beforeEach(() => {
    bundle = tempDir();
    fs.mkdirSync(path.join(bundle, 'rootfs', 'bin'), { recursive: true });
    onEach(bundle);
  });
  afterEach(() => {
    if (bundle !== undefined) fs.rmSync(bundle, { recursive: true, force: true });
  });
}

/** The state files a launch plan names, for tests that only build one. */
export const PLAN_FILES = { exit: '/r/c.exit', exitTmp: '/r/c.exittmp', gate: '/r/c.gate', ready: '/r/c.ready' };

/**
 * useScratch for tests of one container at a time: `onEach` also gets a fresh container id,
 * `<prefix>-<pid>-<random>`, unique across test runs that share the host's cgroups.
 */
export function useScratchContainer(prefix: string, onEach: (dir: string, root: string, id: string) => void): void {
  useScratch((dir, root) => onEach(dir, root, `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e6)}`));
}

/**
 * The same for tests of real containers: afterwards every container left in the root is
 * deleted (--force) first, so that no process or cgroup outlives its test.
 */
export function useScratch(onEach: (dir: string, root: string) => void): void {
  useScratchWith(onEach, async (root) => {
    const ids = fs.existsSync(root) ? StateFile.list(root).map((id) => id.containerId) : [];
    if (ids.length > 0) await runcell(['--root', root, 'delete', '--force', ...ids]);
  });
}

function useScratchWith(onEach: (dir: string, root: string) => void, cleanUp: (root: string) => Promise<void>): void {
  let current: { dir: string; root: string } | undefined;
  beforeEach(() => {
    const dir = tempDir();
    current = { dir, root: path.join(dir, 'root') };
    onEach(current.dir, current.root);
  });
  afterEach(async () => {
    if (current === undefined) return;
    await cleanUp(current.root);
    fs.rmSync(current.dir, { recursive: true, force: true });
  });
}
