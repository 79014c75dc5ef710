// An SVG of the sweep, written without a browser or a plotting library: for every workload
// (and, for `list`, every container count), throughput and p99 latency against the number of
// worker processes, one line per lock mode, spread and implementation.
import type { LockBenchReport, LockBenchRun } from './types';

const PANEL_W = 420;
const PANEL_H = 260;
const MARGIN = { left: 70, right: 20, top: 34, bottom: 42 };
const LEGEND_W = 260;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Series {
  name: string;
  color: string;
  dashed: boolean;
  points: LockBenchRun[];
}

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function formatNumber(value: number): string {
  if (value >= 1e6) return `${+(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${+(value / 1e3).toFixed(1)}k`;
  return `${+value.toFixed(1)}`;
}

function panel(x0: number, y0: number, title: string, series: Series[], procs: number[], metric: (r: LockBenchRun) => number): string {
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const left = x0 + MARGIN.left;
  const top = y0 + MARGIN.top;
  const logP = procs.map((p) => Math.log2(p));
  const minX = Math.min(...logP);
  const spanX = Math.max(...logP) - minX || 1;
  const maxY = niceMax(Math.max(...series.flatMap((s) => s.points.map(metric))));
  const px = (p: number) => left + ((Math.log2(p) - minX) / spanX) * w;
  const py = (v: number) => top + h - (v / maxY) * h;
  const out: string[] = [];
  out.push(`<text x="${left + w / 2}" y="${y0 + 20}" text-anchor="middle" font-weight="bold">${escape(title)}</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (maxY / 4) * i;
    out.push(`<line x1="${left}" x2="${left + w}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/>`);
    out.push(`<text x="${left - 6}" y="${py(v) + 4}" text-anchor="end" font-size="11">${formatNumber(v)}</text>`);
  }
  for (const p of procs) {
    out.push(`<text x="${px(p)}" y="${top + h + 16}" text-anchor="middle" font-size="11">${p}</text>`);
  }
  out.push(`<text x="${left + w / 2}" y="${top + h + 34}" text-anchor="middle" font-size="11">worker processes (P)</text>`);
  for (const s of series) {
    const points = [...s.points].sort((a, b) => a.procs - b.procs).map((r) => `${px(r.procs).toFixed(1)},${py(metric(r)).toFixed(1)}`);
    out.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    for (const point of points) {
      const [cx, cy] = point.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`);
    }
  }
  return out.join('\n');
}

export function renderLockBenchSvg(report: LockBenchReport): string {
  const groups = new Map<string, LockBenchRun[]>();
  for (const run of report.runs) {
    const key = run.workload === 'list' ? `list, ${run.containers} containers` : run.workload;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  const seriesNames = [...new Set(report.runs.map(seriesName))];
  const colorOf = (name: string) => COLORS[seriesNames.indexOf(name) % COLORS.length];
  const width = PANEL_W * 2 + LEGEND_W;
  const height = Math.max(1, groups.size) * PANEL_H + 40;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="24" font-size="15" font-weight="bold">runcell bench locks: ${report.options.durationS} s per run</text>`,
  ];
  [...groups.entries()].forEach(([workload, runs], row) => {
    const series = [...new Set(runs.map(seriesName))].map((name) => ({
      name,
      color: colorOf(name),
      dashed: name.includes('c-floor'),
      points: runs.filter((r) => seriesName(r) === name),
    }));
    const procs = [...new Set(runs.map((r) => r.procs))].sort((a, b) => a - b);
    const y0 = 40 + row * PANEL_H;
    parts.push(panel(0, y0, `${workload}: throughput (ops/s)`, series, procs, (r) => r.opsPerSec));
    parts.push(panel(PANEL_W, y0, `${workload}: p99 latency (µs)`, series, procs, (r) => r.p99Us));
  });
  seriesNames.forEach((name, i) => {
    const y = 70 + i * 20;
    const x = PANEL_W * 2 + 10;
    parts.push(`<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${colorOf(name)}" stroke-width="2"${name.includes('c-floor') ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${x + 30}" y="${y + 4}">${escape(name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function seriesName(run: LockBenchRun): string {
  return `${run.impl} ${run.lockMode} ${run.spread}`;
}
