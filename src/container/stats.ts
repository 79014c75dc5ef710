// `runcell events`: a container's resource usage, read from its cgroup, in runc's event shape
// ({"type":"stats","id":...,"data":{cpu,cpuset,memory,pids,blkio,hugetlb,...}}, runc's
// types/events.go, which containerd decodes), and its OOM kills ({"type":"oom","id":...}).
//
// Field names, units and Go's omitempty are runc's: a zero that runc leaves out is left out.
// Counters are exact: a value above 2^53 (an unlimited memory limit reads 2^64-1 on v2,
// 2^63-4096 on v1) is a bigint, and eventJson() writes it digit for digit, since containerd
// decodes these fields as uint64.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../sys/errno';
import type { Cgroup } from './cgroups';

export type Counter = number | bigint;

export interface MemoryEntry { limit: Counter; usage?: Counter; max?: Counter; failcnt: Counter }
export interface BlkioEntry { major?: number; minor?: number; op?: string; value?: Counter }
export interface PSIData { avg10: number; avg60: number; avg300: number; total: Counter }
export interface PSIStats { some: PSIData; full: PSIData }

export interface Stats {
  cpu: {
    usage: { total?: Counter; percpu?: Counter[]; percpu_kernel?: Counter[]; percpu_user?: Counter[]; kernel: Counter; user: Counter };
    throttling: { periods?: Counter; throttledPeriods?: Counter; throttledTime?: Counter };
    psi?: PSIStats;
  };
  cpuset: {
    cpus?: number[]; cpu_exclusive: number; mems?: number[]; mem_hardwall: number; mem_exclusive: number; memory_migrate: number;
    memory_spread_page: number; memory_spread_slab: number; memory_pressure: number; sched_load_balance: number; sched_relax_domain_level: number;
  };
  memory: {
    cache?: Counter; usage: MemoryEntry; swap: MemoryEntry; kernel: MemoryEntry; kernelTCP: MemoryEntry;
    raw?: Record<string, Counter>; psi?: PSIStats;
  };
  pids: { current?: Counter; limit?: Counter };
  blkio: {
    ioServiceBytesRecursive?: BlkioEntry[]; ioServicedRecursive?: BlkioEntry[]; ioQueueRecursive?: BlkioEntry[];
    ioServiceTimeRecursive?: BlkioEntry[]; ioWaitTimeRecursive?: BlkioEntry[]; ioMergedRecursive?: BlkioEntry[];
    ioTimeRecursive?: BlkioEntry[]; sectorsRecursive?: BlkioEntry[]; psi?: PSIStats;
  };
  hugetlb: Record<string, { usage?: Counter; max?: Counter; failcnt: Counter }>;
  intel_rdt: Record<string, never>;
  network_interfaces: null;
}

const MAX_UINT64 = 2n ** 64n - 1n; // what runc reports for "max"
// USER_HZ, in which cpuacct.stat counts: 100 on every Linux architecture runcell builds for.
const CLOCK_TICKS = 100;

/** A kernel number, exact: a number while it is one, a bigint above 2^53. */
export function parseCounter(text: string): Counter {
  if (text === 'max') return MAX_UINT64;
  if (!/^-?\d+$/.test(text)) return 0;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : BigInt(text);
}

const add = (a: Counter, b: Counter): Counter => {
  const sum = BigInt(a) + BigInt(b);
  return sum <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(sum) : sum;
};
const times = (a: Counter, factor: number): Counter => add(0, BigInt(a) * BigInt(factor));
const isZero = (value: unknown): boolean => value === 0 || value === 0n || value === undefined || value === ''
  || (Array.isArray(value) && value.length === 0) || (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0);

/** Go's omitempty on the named fields. */
function omitEmpty<T extends object>(object: T, ...keys: Array<keyof T>): T {
  for (const key of keys) if (isZero(object[key])) delete object[key];
  return object;
}

/** The files of one cgroup directory, read as runc reads them; a file this kernel lacks is empty. */
function reader(dir: string | null) {
  const text = (file: string): string | null => {
    if (dir === null) return null;
    try {
      return fs.readFileSync(path.join(dir, file), 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'EOPNOTSUPP', 'ENOTSUP', 'ENODEV')) return null;
      throw error;
    }
  };
  const number = (file: string): Counter => parseCounter(text(file)?.trim() ?? '');
  const keyed = (file: string): Record<string, Counter> => Object.fromEntries((text(file) ?? '').split('\n')
    .map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 2).map(([k, v]) => [k, parseCounter(v)]));
  const list = (file: string): Counter[] => (text(file) ?? '').trim().split(/\s+/).filter(Boolean).map(parseCounter);
  const files = (): string[] => {
    try {
      return dir === null ? [] : fs.readdirSync(dir);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
  };
  return { text, number, keyed, list, files };
}
type Reader = ReturnType<typeof reader>;

/** "0-2,4" -> [0, 1, 2, 4] */
export function parseCpuList(text: string): number[] {
  return text.trim().split(',').filter(Boolean).flatMap((part) => {
    const [from, to] = part.split('-').map(Number);
    return to === undefined ? [from] : Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

/** A cgroup2 pressure file: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and "full ...". */
export function parsePSI(text: string | null): PSIStats | undefined {
  if (text === null) return undefined;
  const line = (kind: string): PSIData => {
    const fields = Object.fromEntries((text.split('\n').find((l) => l.startsWith(`${kind} `)) ?? '').split(' ').slice(1).map((f) => f.split('=')));
    return { avg10: Number(fields.avg10 ?? 0), avg60: Number(fields.avg60 ?? 0), avg300: Number(fields.avg300 ?? 0), total: parseCounter(fields.total ?? '0') };
  };
  return { some: line('some'), full: line('full') };
}

/** io.stat lines ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...") in runc's v1 tables. */
export function parseIOStat(text: string): Pick<Stats['blkio'], 'ioServiceBytesRecursive' | 'ioServicedRecursive'> {
  const bytes: BlkioEntry[] = [];
  const serviced: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const [device, ...fields] = line.trim().split(/\s+/);
    const [major, minor] = (device ?? '').split(':').map(Number);
    if (!Number.isInteger(major) || !Number.isInteger(minor)) continue;
    for (const [key, value] of fields.map((f) => f.split('='))) {
      const table = key === 'rbytes' || key === 'wbytes' ? bytes : key === 'rios' || key === 'wios' ? serviced : null;
      table?.push(blkioEntry(major, minor, key.startsWith('r') ? 'Read' : 'Write', parseCounter(value)));
    }
  }
  return { ioServiceBytesRecursive: bytes, ioServicedRecursive: serviced };
}

/** v1's blkio files ("8:0 Read 4096", a last "Total N"). */
export function parseBlkioV1(text: string | null): BlkioEntry[] {
  return (text ?? '').split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 3)
    .map(([device, op, value]) => blkioEntry(Number(device.split(':')[0]), Number(device.split(':')[1]), op, parseCounter(value)));
}

function blkioEntry(major: number, minor: number, op: string, value: Counter): BlkioEntry {
  return omitEmpty({ major, minor, op, value }, 'major', 'minor', 'op', 'value');
}

const memoryEntry = (limit: Counter, usage: Counter, max: Counter, failcnt: Counter): MemoryEntry =>
  omitEmpty({ limit, usage, max, failcnt }, 'usage', 'max');

/**
 * The container's usage now. On hybrid, each controller is read where the container's limits
 * are: its v1 hierarchy when mounted, else the cgroup2 directory.
 */
export function cgroupStats(cgroup: Cgroup): Stats {
  const layout = cgroup.layout;
  const unified = cgroup.unifiedDir;
  const v1 = (controller: string): Reader | null => {
    const mount = cgroup.isV2 ? undefined : layout.v1.get(controller);
    return mount === undefined ? null : reader(path.join(mount, cgroup.cgroupPath));
  };
  const v2 = reader(unified);
  return {
    cpu: cpuStats(v1('cpu'), v1('cpuacct'), v2),
    cpuset: cpusetStats(v1('cpuset'), v2),
    memory: memoryStats(v1('memory'), v2),
    pids: pidsStats(v1('pids') ?? v2),
    blkio: blkioStats(v1('blkio'), v2),
    hugetlb: hugetlbStats(v1('hugetlb'), v2),
    intel_rdt: {},
    network_interfaces: null,
  };
}

function cpuStats(cpu: Reader | null, cpuacct: Reader | null, v2: Reader): Stats['cpu'] {
  if (cpuacct !== null) {
    const stat = cpu?.keyed('cpu.stat') ?? {};
    const ticks = cpuacct.keyed('cpuacct.stat');
    // cpuacct.usage_all: "cpu user system", then one line per cpu.
    const all = (cpuacct.text('cpuacct.usage_all') ?? '').split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 3);
    return {
      usage: omitEmpty({
        total: cpuacct.number('cpuacct.usage'), percpu: cpuacct.list('cpuacct.usage_percpu'),
        percpu_kernel: all.map((f) => parseCounter(f[2])), percpu_user: all.map((f) => parseCounter(f[1])),
        kernel: times(ticks.system ?? 0, 1e9 / CLOCK_TICKS), user: times(ticks.user ?? 0, 1e9 / CLOCK_TICKS),
      }, 'total', 'percpu', 'percpu_kernel', 'percpu_user'),
      throttling: omitEmpty({ periods: stat.nr_periods ?? 0, throttledPeriods: stat.nr_throttled ?? 0, throttledTime: stat.throttled_time ?? 0 },
        'periods', 'throttledPeriods', 'throttledTime'),
    };
  }
  const stat = v2.keyed('cpu.stat');
  const out: Stats['cpu'] = {
    usage: omitEmpty({ total: times(stat.usage_usec ?? 0, 1000), kernel: times(stat.system_usec ?? 0, 1000), user: times(stat.user_usec ?? 0, 1000) }, 'total'),
    throttling: omitEmpty({ periods: stat.nr_periods ?? 0, throttledPeriods: stat.nr_throttled ?? 0, throttledTime: times(stat.throttled_usec ?? 0, 1000) },
      'periods', 'throttledPeriods', 'throttledTime'),
  };
  const psi = parsePSI(v2.text('cpu.pressure'));
  if (psi !== undefined) out.psi = psi;
  return out;
}

function cpusetStats(v1: Reader | null, v2: Reader): Stats['cpuset'] {
  const r = v1 ?? v2;
  const flag = (file: string) => (v1 === null ? 0 : Number(v1.number(file)));
  // v2's cpuset.cpus is empty until set: what the container may use is the effective list.
  const cpus = parseCpuList(v1 !== null ? r.text('cpuset.cpus') ?? '' : r.text('cpuset.cpus.effective') ?? '');
  const mems = parseCpuList(v1 !== null ? r.text('cpuset.mems') ?? '' : r.text('cpuset.mems.effective') ?? '');
  return omitEmpty({
    cpus, cpu_exclusive: flag('cpuset.cpu_exclusive'), mems, mem_hardwall: flag('cpuset.mem_hardwall'),
    mem_exclusive: flag('cpuset.mem_exclusive'), memory_migrate: flag('cpuset.memory_migrate'),
    memory_spread_page: flag('cpuset.memory_spread_page'), memory_spread_slab: flag('cpuset.memory_spread_slab'),
    memory_pressure: flag('cpuset.memory_pressure'), sched_load_balance: flag('cpuset.sched_load_balance'),
    sched_relax_domain_level: flag('cpuset.sched_relax_domain_level'),
  }, 'cpus', 'mems');
}

function memoryStats(v1: Reader | null, v2: Reader): Stats['memory'] {
  if (v1 !== null) {
    const entry = (prefix: string) => memoryEntry(v1.number(`${prefix}.limit_in_bytes`), v1.number(`${prefix}.usage_in_bytes`),
      v1.number(`${prefix}.max_usage_in_bytes`), v1.number(`${prefix}.failcnt`));
    const raw = v1.keyed('memory.stat');
    return omitEmpty({
      cache: raw.total_cache ?? raw.cache ?? 0, usage: entry('memory'), swap: entry('memory.memsw'), kernel: entry('memory.kmem'),
      kernelTCP: entry('memory.kmem.tcp'), raw,
    }, 'cache', 'raw');
  }
  const raw = v2.keyed('memory.stat');
  const usage = memoryEntry(v2.number('memory.max'), v2.number('memory.current'), v2.number('memory.peak'), v2.keyed('memory.events').max ?? 0);
  // As runc: v1's swap counted memory and swap together, so v2's swap is reported with memory.
  const swapLimit = v2.number('memory.swap.max');
  const swap = memoryEntry(swapLimit === MAX_UINT64 || usage.limit === MAX_UINT64 ? MAX_UINT64 : add(swapLimit, usage.limit),
    add(v2.number('memory.swap.current'), usage.usage ?? 0), 0, 0);
  const out: Stats['memory'] = omitEmpty({
    cache: raw.file ?? 0, usage, swap, kernel: memoryEntry(0, 0, 0, 0), kernelTCP: memoryEntry(0, 0, 0, 0), raw,
  }, 'cache', 'raw');
  const psi = parsePSI(v2.text('memory.pressure'));
  if (psi !== undefined) out.psi = psi;
  return out;
}

function pidsStats(r: Reader): Stats['pids'] {
  const limit = r.number('pids.max');
  return omitEmpty({ current: r.number('pids.current'), limit: limit === MAX_UINT64 ? 0 : limit }, 'current', 'limit');
}

function blkioStats(v1: Reader | null, v2: Reader): Stats['blkio'] {
  if (v1 !== null) {
    // The proportional-weight files (CFQ, BFQ) when the kernel has them, else the throttle ones.
    const table = (name: string) => {
      const entries = parseBlkioV1(v1.text(`blkio.${name}_recursive`));
      return entries.length > 0 || !['io_service_bytes', 'io_serviced'].includes(name) ? entries : parseBlkioV1(v1.text(`blkio.throttle.${name}_recursive`));
    };
    return omitEmpty({
      ioServiceBytesRecursive: table('io_service_bytes'), ioServicedRecursive: table('io_serviced'), ioQueueRecursive: table('io_queued'),
      ioServiceTimeRecursive: table('io_service_time'), ioWaitTimeRecursive: table('io_wait_time'), ioMergedRecursive: table('io_merged'),
      ioTimeRecursive: table('time'), sectorsRecursive: table('sectors'),
    }, 'ioServiceBytesRecursive', 'ioServicedRecursive', 'ioQueueRecursive', 'ioServiceTimeRecursive', 'ioWaitTimeRecursive',
    'ioMergedRecursive', 'ioTimeRecursive', 'sectorsRecursive');
  }
  const out: Stats['blkio'] = omitEmpty(parseIOStat(v2.text('io.stat') ?? ''), 'ioServiceBytesRecursive', 'ioServicedRecursive');
  const psi = parsePSI(v2.text('io.pressure'));
  if (psi !== undefined) out.psi = psi;
  return out;
}

function hugetlbStats(v1: Reader | null, v2: Reader): Stats['hugetlb'] {
  const out: Stats['hugetlb'] = {};
  const r = v1 ?? v2;
  for (const file of r.files()) {
    const size = /^hugetlb\.([0-9]+[KMGT]?B)\.(usage_in_bytes|current)$/.exec(file)?.[1];
    if (size === undefined) continue;
    out[size] = v1 !== null
      ? omitEmpty({ usage: v1.number(`hugetlb.${size}.usage_in_bytes`), max: v1.number(`hugetlb.${size}.max_usage_in_bytes`), failcnt: v1.number(`hugetlb.${size}.failcnt`) }, 'usage', 'max')
      : omitEmpty({ usage: v2.number(`hugetlb.${size}.current`), failcnt: v2.keyed(`hugetlb.${size}.events`).max ?? 0 }, 'usage');
  }
  return out;
}

/**
 * An event as one JSON line's text, bigints written as the exact integers they are (JSON has no
 * size limit on numbers; containerd reads them as uint64).
 */
export function eventJson(event: { type: string; id: string; data?: unknown }): string {
  const marker = '\u0000bigint:';
  const text = JSON.stringify(event, (_key, value: unknown) => (typeof value === 'bigint' ? `${marker}${value}` : value));
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}

/**
 * Counts OOM kills in the container's cgroup and wakes its caller when one may have happened
 * or the cgroup emptied: on v2 the kernel announces changes of memory.events (oom_kill) and
 * cgroup.events (populated) to inotify; v1's memory.oom_control (oom_kill) it does not, so
 * there the caller wakes every `pollMs`.
 */
export class OOMWatcher {
  private readonly file: string | null;
  private readonly watchers: fs.FSWatcher[] = [];
  private wake: (() => void) | null = null;
  /** A change announced while nobody waited: the next wait returns at once. */
  private pending = false;

  constructor(cgroup: Cgroup, private readonly pollMs = 200) {
    const v1 = cgroup.isV2 ? undefined : cgroup.layout.v1.get('memory');
    const dir = cgroup.unifiedDir;
    this.file = v1 !== undefined ? path.join(v1, cgroup.cgroupPath, 'memory.oom_control')
      : dir === null ? null : path.join(dir, 'memory.events');
    if (v1 === undefined && dir !== null) {
      for (const file of ['memory.events', 'cgroup.events']) {
        if (!fs.existsSync(path.join(dir, file))) continue;
        const watcher = fs.watch(path.join(dir, file), () => (this.wake === null ? (this.pending = true) : this.wake()));
        watcher.on('error', () => {}); // the cgroup went away: counts read 0 from now on
        this.watchers.push(watcher);
      }
    }
  }

  /** OOM kills so far. */
  count(): number {
    if (this.file === null) return 0;
    try {
      return Number(/^oom_kill (\d+)$/m.exec(fs.readFileSync(this.file, 'utf8'))?.[1] ?? 0);
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENODEV')) return 0;
      throw error;
    }
  }

  /** Resolves when the count may have changed, or after `timeoutMs` at the latest. */
  changed(timeoutMs: number): Promise<void> {
    const wait = Math.max(0, this.watchers.length === 0 ? Math.min(timeoutMs, this.pollMs) : timeoutMs);
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, wait);
      this.wake = done;
    });
  }

  close(): void {
    for (const watcher of this.watchers) watcher.close();
  }
}
