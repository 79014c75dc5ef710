// The benchmark's report as text: one row per run, then the targets.
import { formatTable } from '../format/table';
import type { LockBenchReport } from './types';

const us = (value: number | null) => (value === null ? '-' : value < 10 ? value.toFixed(2) : value < 1000 ? value.toFixed(1) : value.toFixed(0));

export function formatLockBenchReport(report: LockBenchReport): string {
  const rows = [['WORKLOAD', 'SPREAD', 'LOCK', 'P', 'N', 'IMPL', 'OPS/S', 'P50µs', 'P95µs', 'P99µs', 'MAXµs', 'FAIR', 'WAITµs', 'HOLDµs', 'LOST']];
  for (const run of report.runs) {
    rows.push([
      run.workload, run.spread, run.lockMode, String(run.procs), String(run.containers), run.impl,
      Math.round(run.opsPerSec).toString(), us(run.p50Us), us(run.p95Us), us(run.p99Us), us(run.maxUs),
      run.fairness.toFixed(2), us(run.meanWaitUs), us(run.meanHoldUs), run.lostUpdates === null ? '-' : String(run.lostUpdates),
    ]);
  }
  let text = formatTable(rows);
  if (report.checks.length > 0) {
    text += '\n' + formatTable([
      ['TARGET', 'WANTED', 'MEASURED', ''],
      ...report.checks.map((c) => [c.name, c.target, c.measured, c.passed ? 'ok' : 'MISSED']),
    ]);
  }
  return text;
}
