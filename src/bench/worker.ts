// One worker process of `runcell bench locks` (bundled as dist/bench-worker.js). It prepares,
// prints "ready", waits for a byte on stdin (the start barrier that releases every worker at
// once), runs its workload until the time or the operation count is up, writes each
// operation's latency in microseconds to the latency file, and prints its WorkerResult.
import * as fs from 'node:fs';
import { Container } from '../container/container';
import type { ContainerRecord } from '../container/record';
import { StateFile, type LockMode } from '../container/state-file';
import { benchRecord, COUNTER_ANNOTATION } from './fixture';
import { Samples } from './stats';
import type { WorkerResult, WorkerTask } from './types';

type Op = 'load' | 'save' | 'create-destroy' | 'list';

const task = JSON.parse(process.argv[2]) as WorkerTask;
const files = task.targets.map((id) => new StateFile<ContainerRecord>(task.root, id));
const latencies = new Samples();
const saves: Record<string, number> = {};
let waitUs = 0;
let holdUs = 0;

// xorshift32: a seeded choice of operation and target, the same for every run of a seed.
let state = task.seed | 0 || 1;
function random(): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4294967296;
}

function nextOp(): Op {
  if (task.workload !== 'mixed') return task.workload;
  const r = random();
  return r < 0.75 ? 'load' : r < 0.95 ? 'save' : 'create-destroy';
}

const pick = (): StateFile<ContainerRecord> => files[files.length === 1 ? 0 : Math.floor(random() * files.length)];

// Backoff of the try mode: a thread sleep (Atomics.wait) from 10 µs doubling to 1 ms.
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function tryAcquire(file: StateFile<ContainerRecord>, mode: LockMode): void {
  for (let backoffMs = 0.01; !file.tryLock(mode); backoffMs = Math.min(1, backoffMs * 2)) {
    Atomics.wait(sleepCell, 0, 0, backoffMs);
  }
}

function acquireSync(file: StateFile<ContainerRecord>, mode: LockMode): void {
  if (task.lockMode === 'try') tryAcquire(file, mode);
  else file.lock(mode);
}

function touch(file: StateFile<ContainerRecord>): void {
  const record = file.load();
  const counter = Number(record.annotations[COUNTER_ANNOTATION]) + 1;
  record.annotations[COUNTER_ANNOTATION] = String(counter);
  file.saveLocked(record);
  saves[file.id.containerId] = (saves[file.id.containerId] ?? 0) + 1;
}

// create-destroy always blocks in lockForNew: there is no try or async form of creating.
function createDestroy(t0: number): number {
  const file = new StateFile<ContainerRecord>(task.root, { containerId: task.ownId, sandboxId: task.ownId });
  file.lockForNew();
  const t1 = performance.now();
  file.saveLocked(benchRecord(task.ownId));
  file.destroy();
  file.close();
  waitUs += (t1 - t0) * 1000;
  return t1;
}

function opSync(op: Op): void {
  const t0 = performance.now();
  let t1 = t0;
  if (op === 'list') {
    Container.list(task.root);
  } else if (op === 'create-destroy') {
    t1 = createDestroy(t0);
  } else {
    const file = pick();
    acquireSync(file, op === 'load' ? 'shared' : 'exclusive');
    t1 = performance.now();
    if (op === 'load') file.load();
    else touch(file);
    file.unlock();
    waitUs += (t1 - t0) * 1000;
  }
  const t2 = performance.now();
  if (op !== 'list') holdUs += (t2 - t1) * 1000;
  latencies.push((t2 - t0) * 1000);
}

async function opAsync(op: Op): Promise<void> {
  if (op === 'list' || op === 'create-destroy') return opSync(op);
  const t0 = performance.now();
  const file = pick();
  await file.lockAsync(op === 'load' ? 'shared' : 'exclusive');
  const t1 = performance.now();
  if (op === 'load') file.load();
  else touch(file);
  file.unlock();
  const t2 = performance.now();
  waitUs += (t1 - t0) * 1000;
  holdUs += (t2 - t1) * 1000;
  latencies.push((t2 - t0) * 1000);
}

async function run(): Promise<WorkerResult> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const deadline = start + task.durationS * 1000;
  let ops = 0;
  while ((task.ops === 0 || ops < task.ops) && performance.now() < deadline) {
    if (task.lockMode === 'async') await opAsync(nextOp());
    else opSync(nextOp());
    ops++;
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  fs.writeFileSync(task.latencyFile, latencies.bytes());
  return { ops, seconds, cpuUs: cpu.user + cpu.system, waitUs, holdUs, saves };
}

process.stdout.write('ready\n');
process.stdin.once('data', () => {
  process.stdin.pause();
  run().then(
    (result) => {
      process.stdout.write(JSON.stringify(result) + '\n');
      for (const file of files) file.close();
      process.exit(0);
    },
    (error: Error) => {
      process.stderr.write(`bench worker: ${error.stack ?? error.message}\n`);
      process.exit(1);
    },
  );
});
