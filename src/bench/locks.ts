// `runcell bench locks`: lock contention on a state directory, measured with real processes.
//
// Each run starts P worker processes (the library's own code, or the C floor), lets them
// prepare, releases them together through a barrier (a byte on every stdin), and merges what
// they measured: throughput, the latency of every operation, fairness between workers, and
// the time spent waiting for the lock against the time holding it. Correctness is checked while
// measuring: saves increment a counter, and no increment may be lost; every state file must
// still parse afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ContainerError } from '../container/errors';
import { StateFile } from '../container/state-file';
import type { ContainerRecord } from '../container/record';
import { createBenchContainer, COUNTER_ANNOTATION } from './fixture';
import { lineReader } from '../lines';
import { floorProgram, workerScript } from '../paths';
import { fairness, mergeSorted, percentile } from './stats';
import {
  DEFAULT_LOCK_BENCH_OPTIONS, LOCK_MODES, SPREADS, WORKLOADS,
  type BenchProgress, type LockBenchCheck, type LockBenchOptions,
  type LockBenchReport, type LockBenchRun, type WorkerResult, type WorkerTask,
} from './types';

type RunPlan = Pick<LockBenchRun, 'workload' | 'spread' | 'lockMode' | 'procs' | 'impl' | 'containers'>;

export async function benchLocks(
  options: Partial<LockBenchOptions> = {},
  onProgress: (progress: BenchProgress) => void = () => {},
): Promise<LockBenchReport> {
  const opts = validateOptions({ ...DEFAULT_LOCK_BENCH_OPTIONS, ...options });
  const plans = planRuns(opts);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'runcell-bench-'));
  const runs: LockBenchRun[] = [];
  try {
    for (const [index, plan] of plans.entries()) {
      const label = describePlan(plan);
      onProgress({ phase: 'start', index, total: plans.length, label });
      const run = await runOnce(plan, opts, scratch, index, (elapsedS) =>
        onProgress({ phase: 'running', index, total: plans.length, label, elapsedS, durationS: opts.durationS }));
      runs.push(run);
      onProgress({ phase: 'done', index, total: plans.length, label, run });
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return { options: opts, runs, checks: checkTargets(runs) };
}

export function describePlan(plan: RunPlan): string {
  const containers = plan.workload === 'list' ? ` N=${plan.containers}` : '';
  return `${plan.workload} ${plan.spread} ${plan.lockMode} P=${plan.procs}${containers} ${plan.impl}`;
}

function validateOptions(opts: LockBenchOptions): LockBenchOptions {
  const positiveInts = (name: string, values: number[], max: number) => {
    if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 1 || v > max)) {
      throw new RangeError(`${name} must be whole numbers from 1 to ${max}: ${values.join(',')}`);
    }
  };
  positiveInts('procs', opts.procs, 256);
  positiveInts('containers', opts.containers, 100_000);
  const oneOf = <T extends string>(name: string, values: T[], allowed: readonly T[]) => {
    const wrong = values.filter((v) => !allowed.includes(v));
    if (values.length === 0 || wrong.length > 0) {
      throw new RangeError(`unknown ${name} ${wrong.map((w) => JSON.stringify(w)).join(', ') || '(none given)'}: choose from ${allowed.join(', ')}`);
    }
  };
  oneOf('workload', opts.workloads, WORKLOADS);
  oneOf('spread', opts.spreads, SPREADS);
  oneOf('lock mode', opts.lockModes, LOCK_MODES);
  if (!(opts.durationS > 0) || !Number.isFinite(opts.durationS)) throw new RangeError(`duration must be a positive number of seconds: ${opts.durationS}`);
  if (!Number.isInteger(opts.ops) || opts.ops < 0) throw new RangeError(`ops must be a whole number: ${opts.ops}`);
  return opts;
}

// The sweep. `list` reads the whole root, so spread does not apply to it; `list` and
// `create-destroy` only block (there is no try or async form of listing or of creating). The C
// floor is a blocking read loop: it runs beside `load` in blocking mode.
function planRuns(opts: LockBenchOptions): RunPlan[] {
  const plans: RunPlan[] = [];
  for (const workload of opts.workloads) {
    const spreads = workload === 'list' ? [opts.spreads[0]] : opts.spreads;
    const modes = workload === 'list' || workload === 'create-destroy' ? ['blocking' as const] : opts.lockModes;
    const containerCounts = workload === 'list' ? opts.containers : [0];
    for (const spread of spreads) {
      for (const lockMode of modes) {
        for (const containers of containerCounts) {
          for (const procs of opts.procs) {
            const base = { workload, spread, lockMode, procs, containers };
            plans.push({ ...base, impl: 'runcell', containers: containersOf(base) });
            if (opts.baseline && workload === 'load' && lockMode === 'blocking') {
              plans.push({ ...base, impl: 'c-floor', containers: containersOf(base) });
            }
          }
        }
      }
    }
  }
  return plans;
}

function containersOf(plan: Omit<RunPlan, 'impl'>): number {
  if (plan.workload === 'list') return plan.containers;
  if (plan.workload === 'create-destroy') return 0;
  return plan.spread === 'shared' ? 1 : plan.procs;
}

async function runOnce(plan: RunPlan, opts: LockBenchOptions, scratch: string, index: number,
  onRunning: (elapsedS: number) => void): Promise<LockBenchRun> {
  const root = opts.root ?? path.join(scratch, `root-${index}`);
  const prefix = `bench-${process.pid}-${index}-`;
  const fixtureIds = Array.from({ length: plan.containers }, (_, i) => `${prefix}${i}`);
  const runDir = fs.mkdtempSync(path.join(scratch, 'run-'));
  const workers: ChildProcess[] = [];
  try {
    for (const id of fixtureIds) createBenchContainer(root, id);
    for (let w = 0; w < plan.procs; w++) {
      const target = plan.spread === 'shared' ? fixtureIds.slice(0, 1) : [fixtureIds[w]].filter(Boolean);
      const latencyFile = path.join(runDir, `latency-${w}`);
      workers.push(plan.impl === 'c-floor'
        ? startFloor(root, target[0], opts, latencyFile)
        : startWorker({
          root,
          workload: plan.workload,
          lockMode: plan.lockMode,
          targets: target.map((id) => ({ containerId: id, sandboxId: id })),
          ownId: plan.spread === 'shared' ? `${prefix}cd` : `${prefix}cd${w}`,
          durationS: opts.durationS,
          ops: opts.ops,
          latencyFile,
          seed: index * 1000 + w + 1,
        }));
    }
    const readers = workers.map(workerLines);
    await Promise.all(readers.map(async (next, w) => expectLine(await next(), 'ready', w)));
    for (const worker of workers) worker.stdin!.write('g');
    const started = Date.now();
    const ticker = setInterval(() => onRunning((Date.now() - started) / 1000), 100);
    let results: WorkerResult[];
    try {
      results = await withTimeout(Promise.all(readers.map(async (next, w) => parseResult(await next(), w))),
        (opts.durationS + 60) * 1000, `workers of "${describePlan(plan)}" did not finish`);
    } finally {
      clearInterval(ticker);
    }
    await Promise.all(workers.map(exited));
    const latencies = mergeSorted(workers.map((_, w) => readLatencies(path.join(runDir, `latency-${w}`))));
    const lostUpdates = plan.workload === 'save' || plan.workload === 'mixed'
      ? countLostUpdates(root, fixtureIds, results) : null;
    assertEveryStateParses(root);
    const ops = results.reduce((n, r) => n + r.ops, 0);
    const seconds = Math.max(...results.map((r) => r.seconds));
    const timesLock = plan.workload !== 'list';
    return {
      workload: plan.workload,
      spread: plan.spread,
      lockMode: plan.lockMode,
      procs: plan.procs,
      impl: plan.impl,
      containers: plan.containers,
      opsPerSec: ops / seconds,
      p50Us: percentile(latencies, 0.5),
      p95Us: percentile(latencies, 0.95),
      p99Us: percentile(latencies, 0.99),
      maxUs: latencies.length > 0 ? latencies[latencies.length - 1] : 0,
      fairness: fairness(results.map((r) => r.ops)),
      ops,
      seconds,
      cpuUsPerOp: ops > 0 ? results.reduce((n, r) => n + r.cpuUs, 0) / ops : 0,
      meanWaitUs: timesLock && ops > 0 ? results.reduce((n, r) => n + r.waitUs, 0) / ops : null,
      meanHoldUs: timesLock && ops > 0 ? results.reduce((n, r) => n + r.holdUs, 0) / ops : null,
      lostUpdates,
    };
  } finally {
    for (const worker of workers) if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    await Promise.all(workers.map(exited));
    removeFixtures(root, prefix, opts.root === undefined);
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS; // ~60 ms of every node start, and no TLS here
  return env;
}

function startWorker(task: WorkerTask): ChildProcess {
  return spawn(process.execPath, [workerScript(), JSON.stringify(task)], { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv() });
}

function startFloor(root: string, id: string, opts: LockBenchOptions, latencyFile: string): ChildProcess {
  const file = new StateFile(root, { containerId: id, sandboxId: id });
  return spawn(floorProgram(), [file.lockPath, file.statePath, String(opts.durationS), String(opts.ops), latencyFile],
    { stdio: ['pipe', 'pipe', 'inherit'] });
}

function workerLines(child: ChildProcess): () => Promise<string> {
  const next = lineReader(child.stdout!);
  return async () => {
    const line = await next();
    if (line === undefined) {
      await exited(child);
      throw new Error(`bench worker ${child.pid} ended early (exit ${child.exitCode ?? child.signalCode})`);
    }
    return line;
  };
}

function expectLine(line: string, expected: string, worker: number): void {
  if (line !== expected) throw new Error(`bench worker ${worker} said ${JSON.stringify(line)} instead of "${expected}"`);
}

function parseResult(line: string, worker: number): WorkerResult {
  const parsed = JSON.parse(line) as Partial<WorkerResult> & { waitNs?: number; holdNs?: number };
  if (typeof parsed.ops !== 'number') throw new Error(`bench worker ${worker} reported ${JSON.stringify(line)}`);
  // The C floor reports nanoseconds.
  return {
    ops: parsed.ops,
    seconds: parsed.seconds ?? 0,
    cpuUs: parsed.cpuUs ?? 0,
    waitUs: parsed.waitUs ?? (parsed.waitNs ?? 0) / 1000,
    holdUs: parsed.holdUs ?? (parsed.holdNs ?? 0) / 1000,
    saves: parsed.saves ?? {},
  };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}

function readLatencies(file: string): Float64Array {
  const bytes = fs.readFileSync(file);
  return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

// Every completed save incremented a counter under the exclusive lock: the counters must add up
// to the saves the workers completed.
function countLostUpdates(root: string, ids: string[], results: WorkerResult[]): number {
  let saved = 0;
  for (const result of results) for (const n of Object.values(result.saves)) saved += n;
  let counted = 0;
  for (const id of ids) {
    const record = new StateFile<ContainerRecord>(root, { containerId: id, sandboxId: id }).load();
    counted += Number(record.annotations[COUNTER_ANNOTATION]);
  }
  return saved - counted;
}

function assertEveryStateParses(root: string): void {
  for (const id of StateFile.list(root)) {
    const file = new StateFile(root, id);
    try {
      file.load();
    } catch (error) {
      if (error instanceof ContainerError && error.code === 'ERR_CONTAINER_NOT_FOUND') continue;
      throw new Error(`after the run, ${(error as Error).message}`);
    } finally {
      file.close();
    }
  }
}

function removeFixtures(root: string, prefix: string, temporaryRoot: boolean): void {
  if (temporaryRoot) {
    fs.rmSync(root, { recursive: true, force: true });
    return;
  }
  for (const id of StateFile.list(root).filter((i) => i.containerId.startsWith(prefix))) {
    const file = new StateFile(root, id);
    try {
      file.lock();
      file.destroy();
    } catch (error) {
      if (!(error instanceof ContainerError && error.code === 'ERR_CONTAINER_NOT_FOUND')) throw error;
    } finally {
      file.close();
    }
  }
}

// The targets, evaluated on whatever runs the sweep contains.
function checkTargets(runs: LockBenchRun[]): LockBenchCheck[] {
  const checks: LockBenchCheck[] = [];
  const find = (where: Partial<LockBenchRun>) =>
    runs.find((r) => Object.entries(where).every(([k, v]) => r[k as keyof LockBenchRun] === v));
  for (const procs of [1, 8]) {
    const ours = find({ workload: 'load', spread: 'shared', lockMode: 'blocking', procs, impl: 'runcell' });
    const floor = find({ workload: 'load', spread: 'shared', lockMode: 'blocking', procs, impl: 'c-floor' });
    if (ours && floor) {
      const ratio = ours.opsPerSec / floor.opsPerSec;
      checks.push({
        name: `load, shared container, P=${procs}: runcell / C floor`,
        target: '>= 0.50',
        measured: ratio.toFixed(2),
        passed: ratio >= 0.5,
      });
    }
  }
  const saving = runs.filter((r) => r.lostUpdates !== null);
  if (saving.length > 0) {
    const lost = saving.reduce((n, r) => n + (r.lostUpdates ?? 0), 0);
    checks.push({ name: `save: lost updates over ${saving.length} runs`, target: '0', measured: String(lost), passed: lost === 0 });
  }
  const lists = runs.filter((r) => r.workload === 'list' && r.procs === Math.min(...runs.filter((l) => l.workload === 'list').map((l) => l.procs)));
  for (const small of lists) {
    for (const large of lists) {
      if (large.containers <= small.containers) continue;
      // Judged on CPU time per listing: the two runs are measured at different moments, and on
      // a shared machine their wall times differ by more than the effect being measured.
      const growth = large.containers / small.containers;
      const cpuRatio = large.cpuUsPerOp / small.cpuUsPerOp;
      const wallRatio = large.p50Us / small.p50Us;
      checks.push({
        name: `list ${large.containers} vs ${small.containers} containers: CPU time ratio`,
        target: `< ${growth.toFixed(0)}`,
        measured: `${cpuRatio.toFixed(2)} (wall p50 ${wallRatio.toFixed(2)})`,
        passed: cpuRatio < growth,
      });
    }
  }
  return checks;
}
