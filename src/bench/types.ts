// What `runcell bench locks` measures, and what it reports.

export const WORKLOADS = ['load', 'save', 'create-destroy', 'list', 'mixed'] as const;
export type Workload = (typeof WORKLOADS)[number];
export const SPREADS = ['shared', 'distinct'] as const;
export type Spread = (typeof SPREADS)[number];
export const LOCK_MODES = ['blocking', 'try', 'async'] as const;
export type BenchLockMode = (typeof LOCK_MODES)[number];
export type Impl = 'runcell' | 'c-floor';

export interface LockBenchOptions {
  /** Worker process counts; more than one runs a sweep. */
  procs: number[];
  workloads: Workload[];
  spreads: Spread[];
  lockModes: BenchLockMode[];
  /** Seconds each run lasts (per worker), unless `ops` ends it first. */
  durationS: number;
  /** Operations per worker; 0 for no limit. */
  ops: number;
  /** Containers present for the `list` workload; more than one runs a sweep. */
  containers: number[];
  /** Also run the C floor (open + flock + read + unlock + close) where it applies: `load`. */
  baseline: boolean;
  /** Root directory to measure; a temporary one when not given. */
  root?: string;
}

export const DEFAULT_LOCK_BENCH_OPTIONS: LockBenchOptions = {
  procs: [1, 2, 4, 8, 16],
  workloads: ['load'],
  spreads: ['shared'],
  lockModes: ['blocking'],
  durationS: 2,
  ops: 0,
  containers: [100],
  baseline: false,
};

export interface LockBenchRun {
  workload: Workload;
  spread: Spread;
  lockMode: BenchLockMode;
  procs: number;
  impl: Impl;
  /** Containers in the root while the workload ran. */
  containers: number;
  opsPerSec: number;
  p50Us: number;
  p95Us: number;
  p99Us: number;
  maxUs: number;
  /** Fewest operations of a worker divided by the most: 1 is perfectly fair. */
  fairness: number;
  ops: number;
  seconds: number;
  /**
   * CPU time per operation, summed over workers: unlike wall time, barely disturbed by other
   * programs on a shared machine, so it is what compares runs made at different moments.
   */
  cpuUsPerOp: number;
  /** Mean time to acquire the lock, and mean time it was held, per operation (null: no single lock). */
  meanWaitUs: number | null;
  meanHoldUs: number | null;
  /** For `save` and `mixed`: saves completed minus increments found in the state files (must be 0). */
  lostUpdates: number | null;
}

export interface LockBenchCheck {
  name: string;
  target: string;
  measured: string;
  passed: boolean;
}

export interface LockBenchReport {
  options: LockBenchOptions;
  runs: LockBenchRun[];
  checks: LockBenchCheck[];
}

/** What a worker is told to do (passed as JSON on its command line). */
export interface WorkerTask {
  root: string;
  workload: Workload;
  lockMode: BenchLockMode;
  /** The containers this worker operates on (load/save/mixed). */
  targets: Array<{ containerId: string; sandboxId: string }>;
  /** Id this worker creates and destroys (create-destroy, mixed). */
  ownId: string;
  durationS: number;
  ops: number;
  latencyFile: string;
  seed: number;
}

/** What a worker prints when done (one JSON line). */
export interface WorkerResult {
  ops: number;
  seconds: number;
  /** CPU time (user + system) the worker used during the run. */
  cpuUs: number;
  waitUs: number;
  holdUs: number;
  /** Saves completed per container id. */
  saves: Record<string, number>;
}

export type BenchProgress =
  | { phase: 'start'; index: number; total: number; label: string }
  | { phase: 'running'; index: number; total: number; label: string; elapsedS: number; durationS: number }
  | { phase: 'done'; index: number; total: number; label: string; run: LockBenchRun };
