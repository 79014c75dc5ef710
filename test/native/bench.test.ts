// runcell bench locks: real worker processes on a real state directory, kept short.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { benchLocks, renderLockBenchSvg, StateFile, type LockBenchRun } from '../../src';
import { runcell, tempDir } from '../helpers/env';
import { makeRecord, writeContainer } from '../helpers/records';

let dir: string;
beforeEach(() => (dir = tempDir()));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const RUN_FIELDS = ['workload', 'spread', 'lockMode', 'procs', 'impl', 'opsPerSec', 'p50Us', 'p95Us', 'p99Us', 'maxUs', 'fairness', 'cpuUsPerOp'];

describe('benchLocks', () => {
  it('sweeps every workload, runs the C floor beside load, and loses no update', async () => {
    const report = await benchLocks({
      procs: [1, 3],
      workloads: ['load', 'save', 'create-destroy', 'list', 'mixed'],
      spreads: ['shared', 'distinct'],
      lockModes: ['blocking', 'try', 'async'],
      containers: [5, 50],
      durationS: 0.15,
      baseline: true,
    });
    const key = (r: LockBenchRun) => `${r.workload}/${r.spread}/${r.lockMode}/${r.impl}/${r.containers}`;
    const keys = new Set(report.runs.map(key));
    // load, save, mixed: 2 spreads x 3 modes; create-destroy: 2 spreads, blocking; list: 2 sizes;
    // C floor: load blocking, 2 spreads. Each at P=1 and P=3.
    expect(report.runs).toHaveLength((3 * 6 + 2 + 2 + 2) * 2);
    expect(keys.has('load/shared/blocking/c-floor/1')).toBe(true);
    expect(keys.has('load/distinct/blocking/c-floor/3')).toBe(true);
    expect(keys.has('list/shared/blocking/runcell/50')).toBe(true);
    expect([...keys].some((k) => k.startsWith('save/') && k.includes('c-floor'))).toBe(false);
    for (const run of report.runs) {
      for (const field of RUN_FIELDS) expect(run).toHaveProperty(field);
      expect(run.ops).toBeGreaterThan(0);
      expect(run.opsPerSec).toBeGreaterThan(0);
      expect(run.p50Us).toBeLessThanOrEqual(run.p95Us);
      expect(run.p95Us).toBeLessThanOrEqual(run.p99Us);
      expect(run.p99Us).toBeLessThanOrEqual(run.maxUs);
      expect(run.fairness).toBeGreaterThan(0);
      expect(run.fairness).toBeLessThanOrEqual(1);
      if (run.workload === 'save' || run.workload === 'mixed') expect(run.lostUpdates).toBe(0);
      else expect(run.lostUpdates).toBeNull();
      if (run.workload === 'list') expect(run.meanWaitUs).toBeNull();
      else expect(run.meanWaitUs! + run.meanHoldUs!).toBeGreaterThan(0);
    }
    const names = report.checks.map((c) => c.name);
    expect(names).toContain('load, shared container, P=1: runcell / C floor');
    expect(names).toContain('list 50 vs 5 containers: CPU time ratio');
    expect(report.checks.find((c) => c.name.startsWith('save: lost updates'))).toMatchObject({ measured: '0', passed: true });

    const svg = renderLockBenchSvg(report);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('load: throughput (ops/s)');
    expect(svg).toContain('list, 50 containers: p99 latency (µs)');
    expect(svg.match(/<polyline/g)!.length).toBeGreaterThanOrEqual(report.runs.length / 2);
  });

  it('stops each worker at --ops, and leaves a given root as it found it', async () => {
    const root = path.join(dir, 'root');
    writeContainer(root, makeRecord('keep', { status: 'running' }));
    const before = fs.readdirSync(root).sort();
    const report = await benchLocks({ procs: [2], workloads: ['save', 'create-destroy'], spreads: ['distinct'], ops: 40, durationS: 30, root });
    for (const run of report.runs) expect(run.ops).toBe(80);
    expect(fs.readdirSync(root).sort()).toEqual(before);
    expect(new StateFile(root, { containerId: 'keep', sandboxId: 'keep' }).load()).toMatchObject({ status: 'running' });
  });

  it('rejects options it cannot honour, naming them', async () => {
    await expect(benchLocks({ workloads: ['sleep' as never] })).rejects.toThrow('unknown workload "sleep": choose from load, save, create-destroy, list, mixed');
    await expect(benchLocks({ procs: [0] })).rejects.toThrow('procs must be whole numbers from 1 to 256: 0');
    await expect(benchLocks({ durationS: 0 })).rejects.toThrow('duration must be a positive number of seconds');
  });
});

describe('runcell bench locks', () => {
  it('prints the JSON report with the fields machines read, and writes the SVG', async () => {
    const plot = path.join(dir, 'locks.svg');
    // From a directory outside the package: the workers find the addon from their own file.
    const result = await runcell(['bench', 'locks', '--procs', '1,2', '--duration', '150ms', '--baseline', '--json', '--plot', plot], { cwd: dir });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.runs.map((r: LockBenchRun) => `${r.impl}@${r.procs}`)).toEqual(['runcell@1', 'c-floor@1', 'runcell@2', 'c-floor@2']);
    for (const run of report.runs) for (const field of RUN_FIELDS) expect(run).toHaveProperty(field);
    expect(fs.readFileSync(plot, 'utf8')).toContain('</svg>');
  });

  it('prints a table by default, and rejects a bad option with exit 1', async () => {
    const table = await runcell(['bench', 'locks', '--procs', '1', '--duration', '100ms', '--workload', 'save']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^WORKLOAD\s+SPREAD\s+LOCK\s+P\s+N\s+IMPL\s+OPS\/S\s+P50µs/);
    expect(table.stdout).toMatch(/save: lost updates over 1 runs\s+0\s+0\s+ok/);
    const bad = await runcell(['bench', 'locks', '--duration', 'soon']);
    expect(bad).toMatchObject({ code: 1, stderr: 'runcell: --duration: "soon" is not a duration (e.g. 2s, 500ms)\n' });
  });
});
