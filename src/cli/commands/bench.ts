import * as fs from 'node:fs';
import type { Command } from 'commander';
import type { Context } from '../context';
import { parseDuration } from '../duration';
import { writeErr, writeOut } from '../output';

const list = (value: string) => value.split(',').map((v) => v.trim()).filter((v) => v !== '');
const numbers = (name: string) => (value: string) => list(value).map((v) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`--${name}: "${v}" is not a whole number`);
  return n;
});

export function register(program: Command, context: () => Context): void {
  const bench = program.command('bench').description('measure runcell on this machine');
  bench
    .command('locks')
    .description('lock contention on a state directory: P worker processes against one root')
    .option('--procs <list>', 'worker process counts, a list runs a sweep', numbers('procs'), [1, 2, 4, 8, 16])
    .option('--duration <time>', 'how long each run lasts (2s, 500ms)', (v: string) => parseDuration('--duration', v), 2)
    .option('--ops <n>', 'operations per worker (ends a run before --duration)', (v) => numbers('ops')(v)[0], 0)
    .option('--workload <list>', 'load, save, create-destroy, list, mixed', list, ['load'])
    .option('--spread <list>', 'shared (one container) or distinct (one per worker)', list, ['shared'])
    .option('--lock-mode <list>', 'blocking, try (try with backoff) or async (flockAsync)', list, ['blocking'])
    .option('--containers <list>', 'containers in the root for the list workload', numbers('containers'), [100])
    .option('--baseline', 'run the C floor (open+flock+read+unlock+close) in the same sweep')
    .option('--json', 'print the report as JSON')
    .option('--plot <file.svg>', 'draw throughput and p99 against P into an SVG file')
    .action(async (options: {
      procs: number[]; duration: number; ops: number; workload: string[]; spread: string[]; lockMode: string[];
      containers: number[]; baseline?: boolean; json?: boolean; plot?: string;
    }) => {
      const { benchLocks } = await import('../../bench/locks');
      const { root, rootGiven } = context();
      const live = process.stderr.isTTY === true;
      const report = await benchLocks({
        procs: options.procs,
        durationS: options.duration,
        ops: options.ops,
        workloads: options.workload as never,
        spreads: options.spread as never,
        lockModes: options.lockMode as never,
        containers: options.containers,
        baseline: options.baseline === true,
        root: rootGiven ? root : undefined,
      }, (progress) => {
        if (!live) return;
        const head = `[${progress.index + 1}/${progress.total}] ${progress.label}`;
        const tail = progress.phase === 'running' ? `  ${progress.elapsedS.toFixed(1)} s` : progress.phase === 'start' ? '  starting' : '';
        writeErr(`\r\x1b[K${head}${tail}`);
      });
      if (live) writeErr('\r\x1b[K');
      if (options.plot !== undefined) {
        const { renderLockBenchSvg } = await import('../../bench/plot');
        fs.writeFileSync(options.plot, renderLockBenchSvg(report));
      }
      if (options.json) {
        writeOut(JSON.stringify(report, null, 2) + '\n');
      } else {
        const { formatLockBenchReport } = await import('../../bench/report');
        writeOut(formatLockBenchReport(report));
      }
    });
}
