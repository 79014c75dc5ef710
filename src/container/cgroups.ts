// A container's cgroup, on cgroup v1, v2, or the hybrid of both (v1 controllers plus a cgroup2
// mount at /sys/fs/cgroup/unified, as on these machines: crun refuses that layout, runc
// handles it, so do we). The hierarchy is read from /proc/self/mountinfo; every write that
// fails is reported with the file and its errno, never skipped.
//
// linux.resources becomes a list of file writes, decided by pure functions (v1Settings,
// v2Settings, planResources) so that every conversion is tested without a kernel. On hybrid,
// each controller is used where it is mounted: the v1 hierarchy when it has it (as runc does),
// else the cgroup2 mount when its cgroup.controllers offers it (hugetlb here). Device rules go
// to the v1 devices controller where there is one, else into an eBPF program attached to the
// cgroup2 directory (device-filter.ts). On hybrid the kernel checks both the v1 controller and
// the programs of the cgroup2 directory; runcell, as runc, writes the v1 files there and attaches
// no program, so that one list decides.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SpecError } from '../oci/spec';
import { ErrnoError, isErrno } from '../sys/errno';
import { kill } from '../sys/process';
import {
  BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, BPF_PROG_TYPE_CGROUP_DEVICE, bpfProgAttach, bpfProgDetach, bpfProgGetFdById, bpfProgLoad, bpfProgQuery,
} from '../sys/bpf';
import { deviceFilterProgram, encodeProgram, parseDeviceRules, type DeviceMatch, type DeviceRule } from './device-filter';
import { ContainerError } from './errors';
import { log } from '../log';

export interface CgroupLayout {
  /** v1 controller name -> its mount point (cpu and cpuacct may share one). */
  v1: Map<string, string>;
  /** The cgroup2 mount: the whole hierarchy on v2, membership only on hybrid. */
  unified: string | null;
}

const V1_CONTROLLERS = new Set(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'blkio',
  'perf_event', 'net_prio', 'hugetlb', 'pids', 'rdma', 'misc']);

/** The mounted cgroup hierarchies, from a mountinfo text. */
export function parseLayout(mountinfo: string): CgroupLayout {
  const layout: CgroupLayout = { v1: new Map(), unified: null };
  // "36 35 98:0 /root /mnt opts [optional fields] - fstype source superopts" (proc(5)); no field
  // holds a space (it is escaped as \040). The cgroup lines alone, found by one expression: a
  // split of every line cost pause, resume and ps ~0.1 ms more.
  for (const [, mountPoint, fsType, superOptions] of mountinfo.matchAll(MOUNTINFO_CGROUP_LINE)) {
    if (fsType === 'cgroup2') {
      layout.unified ??= mountPoint;
      continue;
    }
    for (const option of (superOptions ?? '').split(',')) {
      if (V1_CONTROLLERS.has(option) && !layout.v1.has(option)) layout.v1.set(option, mountPoint);
    }
  }
  return layout;
}

const MOUNTINFO_CGROUP_LINE = /^(?:\S+ ){4}(\S+) [^\n]*? - (cgroup2?) \S+(?: (\S+))?$/gm;

let hostLayout: CgroupLayout | undefined;
export function detectLayout(): CgroupLayout {
  hostLayout ??= parseLayout(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  return hostLayout;
}

/**
 * A layout as a container's record keeps it (JSON: no Map). create records the hierarchies its
 * cgroup was made in, so that pause, resume, ps, kill --all, exec and events find its
 * directories without reading and parsing /proc/self/mountinfo (~0.2 ms of each), as runc
 * keeps cgroup_paths in its state.json.
 */
export interface RecordedLayout {
  v1: Record<string, string>;
  unified: string | null;
}

export function recordLayout(layout: CgroupLayout): RecordedLayout {
  return { v1: Object.fromEntries(layout.v1), unified: layout.unified };
}

/**
 * The layout recorded at create, or the host's as it is now when there is none (a record of an
 * older build, or one without a cgroup) or it is not one (known controllers, absolute plain
 * mount points): the recorded one only saves a read, so anything doubtful goes to the source.
 */
export function layoutOf(recorded: unknown): CgroupLayout {
  return parseRecordedLayout(recorded) ?? detectLayout();
}

function parseRecordedLayout(recorded: unknown): CgroupLayout | undefined {
  if (typeof recorded !== 'object' || recorded === null) return undefined;
  const { v1, unified } = recorded as Partial<RecordedLayout>;
  const isMountPoint = (value: unknown) => typeof value === 'string' && value.startsWith('/') && !value.split('/').includes('..');
  if (unified !== null && !isMountPoint(unified)) return undefined;
  if (typeof v1 !== 'object' || v1 === null || Array.isArray(v1)) return undefined;
  const entries = Object.entries(v1);
  if (!entries.every(([controller, mountPoint]) => V1_CONTROLLERS.has(controller) && isMountPoint(mountPoint))) return undefined;
  if (entries.length === 0 && unified === null) return undefined;
  return { v1: new Map(entries), unified: unified as string | null };
}

/** True on a host with the cgroup2 hierarchy alone (every current distribution). */
export function isPureV2(layout: CgroupLayout): boolean {
  return layout.v1.size === 0 && layout.unified !== null;
}

interface DeviceThrottle { major: number; minor: number; rate: number }

/** linux.resources of the runtime-spec (config-linux.md), every field of it. */
export interface LinuxResources {
  devices?: DeviceRule[];
  memory?: {
    limit?: number; reservation?: number; swap?: number; kernel?: number; kernelTCP?: number; swappiness?: number;
    disableOOMKiller?: boolean; useHierarchy?: boolean; checkBeforeUpdate?: boolean;
  };
  cpu?: {
    shares?: number; quota?: number; burst?: number; period?: number; realtimeRuntime?: number; realtimePeriod?: number;
    cpus?: string; mems?: string; idle?: number;
  };
  blockIO?: {
    weight?: number; leafWeight?: number;
    weightDevice?: Array<{ major: number; minor: number; weight?: number; leafWeight?: number }>;
    throttleReadBpsDevice?: DeviceThrottle[]; throttleWriteBpsDevice?: DeviceThrottle[];
    throttleReadIOPSDevice?: DeviceThrottle[]; throttleWriteIOPSDevice?: DeviceThrottle[];
  };
  hugepageLimits?: Array<{ pageSize: string; limit: number }>;
  network?: { classID?: number; priorities?: Array<{ name: string; priority: number }> };
  pids?: { limit?: number };
  rdma?: Record<string, { hcaHandles?: number; hcaObjects?: number }>;
  unified?: Record<string, string>;
}

/** One file write: `file` under the container's directory of `controller`'s hierarchy. */
export interface Setting {
  /** 1: the v1 hierarchy of `controller`; 2: the cgroup2 directory. */
  version: 1 | 2;
  controller: string;
  file: string;
  value: string;
  /** Written instead when `file` does not exist (blkio.weight without CFQ: the BFQ file). */
  fallback?: { file: string; value: string };
  /**
   * On EINVAL, write the next setting first and then this one again: v1 refuses a memory limit
   * above the current memory+swap limit, and a cfs period that the old quota no longer fits.
   */
  retryAfterNext?: boolean;
}

/** The resource groups of linux.resources and the controller each needs, per version. */
const GROUPS = {
  devices: { v1: 'devices', v2: 'devices' },
  pids: { v1: 'pids', v2: 'pids' },
  memory: { v1: 'memory', v2: 'memory' },
  cpu: { v1: 'cpu', v2: 'cpu' },
  cpuset: { v1: 'cpuset', v2: 'cpuset' },
  blockIO: { v1: 'blkio', v2: 'io' },
  hugepageLimits: { v1: 'hugetlb', v2: 'hugetlb' },
  rdma: { v1: 'rdma', v2: 'rdma' },
  network: { v1: 'net_cls', v2: null },
  unified: { v1: null, v2: 'cgroup' },
} as const;
type Group = keyof typeof GROUPS;

function groupsOf(r: LinuxResources): Group[] {
  return (Object.keys(GROUPS) as Group[]).filter((group) => {
    // JSON's null (what some encoders write for an absent object) is absent too.
    if (group === 'cpuset') return given(r.cpu?.cpus) || given(r.cpu?.mems);
    if (group === 'cpu') return given(r.cpu) && Object.keys(r.cpu!).some((k) => k !== 'cpus' && k !== 'mems');
    return given(r[group]);
  });
}

// Hostile input: every number is checked before it becomes text in a kernel file.
function int(value: unknown, field: string, min = Number.MIN_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    const what = min === 0 ? 'a non-negative integer' : min === -1 ? 'an integer of -1 (no limit) or more' : 'an integer';
    throw new SpecError(`linux.resources.${field}: ${JSON.stringify(value)} is not ${what}`);
  }
  return value;
}
const given = (value: unknown): boolean => value !== undefined && value !== null;
const set = (value: unknown): boolean => given(value) && value !== 0 && value !== false;

/** A cgroup2 limit: -1 means "max". */
function v2Limit(value: number): string {
  return value === -1 ? 'max' : String(value);
}

/** runc's conversion of cpu shares (2..262144) to cpu.weight (1..10000). */
export function sharesToWeight(shares: number): number {
  return 1 + Math.trunc(((shares - 2) * 9999) / 262142);
}

/** runc's conversion of a blkio weight (10..1000) to io.weight (1..10000). */
export function blkioToIOWeight(weight: number): number {
  return 1 + Math.trunc(((weight - 10) * 9999) / 990);
}

/**
 * memory.swap.max from the spec's swap, which (as v1's memsw) counts memory and swap together:
 * runc's ConvertMemorySwapToCgroupV2Value. null: leave the file alone.
 */
export function swapToV2(swap: number | undefined, limit: number | undefined): string | null {
  if (limit === -1 && (swap === undefined || swap === 0)) return 'max'; // unlimited memory, swap not given: unlimited both
  if (swap === undefined || swap === 0) return null;
  if (swap === -1) return 'max';
  if (limit === undefined || limit === 0 || limit === -1) {
    throw new SpecError('linux.resources.memory.swap: a swap limit needs a memory limit (memory.limit)');
  }
  if (swap < limit) throw new SpecError(`linux.resources.memory.swap: ${swap} is below memory.limit ${limit} (swap counts memory and swap together)`);
  return String(swap - limit);
}

function notOnV2(field: string, why: string): never {
  throw new SpecError(`linux.resources.${field}: not supported on cgroup v2 (${why})`);
}

type Builder = (r: LinuxResources) => Setting[];

const V1_BUILDERS: Record<Group, Builder> = {
  devices: (r) => v1DeviceSettings(parseDeviceRules(r.devices ?? [])),
  pids: (r) => pidsLimit(r).map((limit) => s1('pids', 'pids.max', limit)),
  memory: (r) => {
    const m = r.memory!;
    const out: Setting[] = [];
    if (set(m.limit)) out.push({ ...s1('memory', 'memory.limit_in_bytes', int(m.limit, 'memory.limit', -1)), retryAfterNext: set(m.swap) });
    if (set(m.swap)) out.push(s1('memory', 'memory.memsw.limit_in_bytes', int(m.swap, 'memory.swap', -1)));
    if (given(m.kernel)) out.push(s1('memory', 'memory.kmem.limit_in_bytes', int(m.kernel, 'memory.kernel', -1)));
    if (given(m.useHierarchy)) out.push(s1('memory', 'memory.use_hierarchy', m.useHierarchy ? 1 : 0));
    if (set(m.reservation)) out.push(s1('memory', 'memory.soft_limit_in_bytes', int(m.reservation, 'memory.reservation', -1)));
    if (given(m.disableOOMKiller)) out.push(s1('memory', 'memory.oom_control', m.disableOOMKiller ? 1 : 0));
    if (given(m.kernelTCP)) out.push(s1('memory', 'memory.kmem.tcp.limit_in_bytes', int(m.kernelTCP, 'memory.kernelTCP', -1)));
    if (given(m.swappiness)) out.push(s1('memory', 'memory.swappiness', int(m.swappiness, 'memory.swappiness', 0)));
    return out;
  },
  cpu: (r) => {
    const c = r.cpu!;
    const out: Setting[] = [];
    if (set(c.shares)) out.push(s1('cpu', 'cpu.shares', int(c.shares, 'cpu.shares', 0)));
    if (set(c.period)) out.push({ ...s1('cpu', 'cpu.cfs_period_us', int(c.period, 'cpu.period', 0)), retryAfterNext: set(c.quota) });
    if (set(c.quota)) out.push(s1('cpu', 'cpu.cfs_quota_us', int(c.quota, 'cpu.quota', -1)));
    if (given(c.burst)) out.push(s1('cpu', 'cpu.cfs_burst_us', int(c.burst, 'cpu.burst', 0)));
    if (set(c.realtimePeriod)) out.push(s1('cpu', 'cpu.rt_period_us', int(c.realtimePeriod, 'cpu.realtimePeriod', 0)));
    if (set(c.realtimeRuntime)) out.push(s1('cpu', 'cpu.rt_runtime_us', int(c.realtimeRuntime, 'cpu.realtimeRuntime', -1)));
    if (given(c.idle)) out.push(s1('cpu', 'cpu.idle', int(c.idle, 'cpu.idle')));
    return out;
  },
  cpuset: (r) => cpusetSettings(r, (file, value) => s1('cpuset', file, value)),
  blockIO: (r) => {
    const b = r.blockIO!;
    const out: Setting[] = [];
    const blkio = (file: string, value: string, fallback?: string) =>
      out.push({ ...s1('blkio', file, value), ...(fallback ? { fallback: { file: fallback, value } } : {}) });
    if (set(b.weight)) blkio('blkio.weight', String(int(b.weight, 'blockIO.weight', 0)), 'blkio.bfq.weight');
    if (set(b.leafWeight)) blkio('blkio.leaf_weight', String(int(b.leafWeight, 'blockIO.leafWeight', 0)));
    (b.weightDevice ?? []).forEach((d, i) => {
      const device = deviceNumber(d, `blockIO.weightDevice[${i}]`);
      if (given(d.weight)) blkio('blkio.weight_device', `${device} ${int(d.weight, `blockIO.weightDevice[${i}].weight`, 0)}`, 'blkio.bfq.weight_device');
      if (given(d.leafWeight)) blkio('blkio.leaf_weight_device', `${device} ${int(d.leafWeight, `blockIO.weightDevice[${i}].leafWeight`, 0)}`);
    });
    for (const [key, file] of [['throttleReadBpsDevice', 'read_bps_device'], ['throttleWriteBpsDevice', 'write_bps_device'],
      ['throttleReadIOPSDevice', 'read_iops_device'], ['throttleWriteIOPSDevice', 'write_iops_device']] as const) {
      (b[key] ?? []).forEach((t, i) => blkio(`blkio.throttle.${file}`, `${deviceNumber(t, `blockIO.${key}[${i}]`)} ${int(t.rate, `blockIO.${key}[${i}].rate`, 0)}`));
    }
    return out;
  },
  hugepageLimits: (r) => hugetlbSettings(r, (size) => `hugetlb.${size}.limit_in_bytes`, (file, value) => s1('hugetlb', file, value)),
  rdma: (r) => rdmaSettings(r, (value) => s1('rdma', 'rdma.max', value)),
  network: (r) => {
    const n = r.network!;
    const out: Setting[] = [];
    if (given(n.classID)) out.push(s1('net_cls', 'net_cls.classid', int(n.classID, 'network.classID', 0)));
    (n.priorities ?? []).forEach((p, i) => {
      out.push(s1('net_prio', 'net_prio.ifpriomap', `${word(p.name, `network.priorities[${i}].name`)} ${int(p.priority, `network.priorities[${i}].priority`, 0)}`));
    });
    return out;
  },
  unified: (r) => {
    if (Object.keys(r.unified!).length === 0) return [];
    throw new SpecError('linux.resources.unified: needs cgroup v2, and this host has only cgroup v1');
  },
};

const V2_BUILDERS: Record<Group, Builder> = {
  devices: () => [], // an eBPF program, not a file: see Cgroup.applyDeviceFilter
  pids: (r) => pidsLimit(r).map((limit) => s2('pids.max', limit)),
  memory: (r) => {
    const m = r.memory!;
    const out: Setting[] = [];
    if (given(m.swappiness)) notOnV2('memory.swappiness', 'the kernel has no per-cgroup swappiness there');
    if (m.disableOOMKiller === true) notOnV2('memory.disableOOMKiller', 'the OOM killer cannot be disabled per cgroup');
    if (m.useHierarchy === false) notOnV2('memory.useHierarchy', 'cgroup v2 is always hierarchical');
    if (set(m.kernel)) notOnV2('memory.kernel', 'kernel memory is counted in memory.max');
    if (set(m.kernelTCP)) notOnV2('memory.kernelTCP', 'kernel memory is counted in memory.max');
    // memory.oom.group has no field in the spec: as runc, only linux.resources.unified sets it.
    const limit = given(m.limit) ? int(m.limit, 'memory.limit', -1) : undefined;
    const swap = swapToV2(given(m.swap) ? int(m.swap, 'memory.swap', -1) : undefined, limit);
    if (swap !== null) out.push(s2('memory.swap.max', swap));
    if (limit !== undefined && limit !== 0) out.push(s2('memory.max', v2Limit(limit)));
    if (set(m.reservation)) out.push(s2('memory.low', v2Limit(int(m.reservation, 'memory.reservation', -1))));
    return out;
  },
  cpu: (r) => {
    const c = r.cpu!;
    const out: Setting[] = [];
    if (set(c.realtimeRuntime)) notOnV2('cpu.realtimeRuntime', 'the cpu controller has no realtime budget there');
    if (set(c.realtimePeriod)) notOnV2('cpu.realtimePeriod', 'the cpu controller has no realtime budget there');
    if (set(c.shares)) out.push(s2('cpu.weight', sharesToWeight(int(c.shares, 'cpu.shares', 0))));
    if (set(c.quota) || set(c.period)) {
      const quota = given(c.quota) ? int(c.quota, 'cpu.quota', -1) : -1;
      const period = set(c.period) ? int(c.period, 'cpu.period', 0) : 100000; // the kernel's default period
      out.push(s2('cpu.max', `${quota > 0 ? quota : 'max'} ${period}`));
    }
    if (given(c.burst)) out.push(s2('cpu.max.burst', int(c.burst, 'cpu.burst', 0)));
    if (given(c.idle)) out.push(s2('cpu.idle', int(c.idle, 'cpu.idle')));
    return out;
  },
  cpuset: (r) => cpusetSettings(r, (file, value) => s2(file, value)),
  blockIO: (r) => {
    const b = r.blockIO!;
    const out: Setting[] = [];
    if (set(b.leafWeight)) notOnV2('blockIO.leafWeight', 'io has no leaf weights');
    // BFQ's own file takes blkio's scale; without BFQ, io.weight takes 1..10000 (runc's order).
    if (set(b.weight)) {
      const weight = int(b.weight, 'blockIO.weight', 0);
      out.push({ ...s2('io.bfq.weight', weight), fallback: { file: 'io.weight', value: `default ${blkioToIOWeight(weight)}` } });
    }
    (b.weightDevice ?? []).forEach((d, i) => {
      const device = deviceNumber(d, `blockIO.weightDevice[${i}]`);
      if (set(d.leafWeight)) notOnV2(`blockIO.weightDevice[${i}].leafWeight`, 'io has no leaf weights');
      if (!given(d.weight)) return;
      const weight = int(d.weight, `blockIO.weightDevice[${i}].weight`, 0);
      out.push({ ...s2('io.bfq.weight', `${device} ${weight}`), fallback: { file: 'io.weight', value: `${device} ${blkioToIOWeight(weight)}` } });
    });
    // One io.max line per device with each of its limits; v1's "0" (no limit) is "max" here,
    // where 0 would be refused.
    const limits = new Map<string, string[]>();
    for (const [key, name] of [['throttleReadBpsDevice', 'rbps'], ['throttleWriteBpsDevice', 'wbps'],
      ['throttleReadIOPSDevice', 'riops'], ['throttleWriteIOPSDevice', 'wiops']] as const) {
      (b[key] ?? []).forEach((t, i) => {
        const device = deviceNumber(t, `blockIO.${key}[${i}]`);
        const rate = int(t.rate, `blockIO.${key}[${i}].rate`, 0);
        limits.set(device, [...(limits.get(device) ?? []), `${name}=${rate === 0 ? 'max' : rate}`]);
      });
    }
    for (const [device, values] of limits) out.push(s2('io.max', `${device} ${values.join(' ')}`));
    return out;
  },
  hugepageLimits: (r) => hugetlbSettings(r, (size) => `hugetlb.${size}.max`, (file, value) => s2(file, value)),
  rdma: (r) => rdmaSettings(r, (value) => s2('rdma.max', value)),
  network: (r) => {
    if (given(r.network!.classID) || (r.network!.priorities ?? []).length > 0) notOnV2('network', 'net_cls and net_prio exist only in v1');
    return [];
  },
  unified: (r) => Object.entries(r.unified!).flatMap(([key, value]) => {
    const field = `unified[${JSON.stringify(key)}]`;
    // The key is a file name in the container's directory, nothing else.
    if (!/^[A-Za-z0-9_]+\.[A-Za-z0-9_.]+$/.test(key) || key.includes('..')) {
      throw new SpecError(`linux.resources.${field}: must be a file name of the form controller.parameter (no "/", no "..")`);
    }
    if (typeof value !== 'string') throw new SpecError(`linux.resources.${field}: must be a string`);
    // One write per line, as crun does: the kernel parses one entry of io.max (and its kin) per write.
    return value.split('\n').filter((line) => line !== '').map((line) => ({ ...s2(key, line), controller: key.split('.')[0] }));
  }),
};

function s1(controller: string, file: string, value: string | number): Setting {
  return { version: 1, controller, file, value: String(value) };
}
function s2(file: string, value: string | number): Setting {
  return { version: 2, controller: file.split('.')[0], file, value: String(value) };
}

function pidsLimit(r: LinuxResources): string[] {
  if (!given(r.pids?.limit)) return [];
  const limit = int(r.pids!.limit, 'pids.limit', -1);
  return [limit > 0 ? String(limit) : 'max']; // 0 and -1: no limit
}

function deviceNumber(d: { major: number; minor: number }, field: string): string {
  return `${int(d.major, `${field}.major`, 0)}:${int(d.minor, `${field}.minor`, 0)}`;
}

/** A token that goes into a kernel file: no spaces, no newlines, no slashes. */
function word(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_.:@-]+$/.test(value)) {
    throw new SpecError(`linux.resources.${field}: ${JSON.stringify(value)} is not a valid name`);
  }
  return value;
}

function cpusetSettings(r: LinuxResources, make: (file: string, value: string) => Setting): Setting[] {
  const out: Setting[] = [];
  for (const [key, file] of [['cpus', 'cpuset.cpus'], ['mems', 'cpuset.mems']] as const) {
    const value = r.cpu?.[key];
    if (value === undefined || value === '') continue;
    if (typeof value !== 'string' || !/^[0-9,\- ]+$/.test(value)) throw new SpecError(`linux.resources.cpu.${key}: ${JSON.stringify(value)} is not a list of numbers and ranges`);
    out.push(make(file, value));
  }
  return out;
}

function hugetlbSettings(r: LinuxResources, fileOf: (size: string) => string, make: (file: string, value: string) => Setting): Setting[] {
  return (r.hugepageLimits ?? []).map((h, i) => {
    // The page size becomes part of a file name: "2MB", "1GB", "64KB", nothing else.
    if (typeof h.pageSize !== 'string' || !/^[0-9]+[KMGT]?B$/.test(h.pageSize)) {
      throw new SpecError(`linux.resources.hugepageLimits[${i}].pageSize: ${JSON.stringify(h.pageSize)} is not a page size such as 2MB`);
    }
    return make(fileOf(h.pageSize), String(int(h.limit, `hugepageLimits[${i}].limit`, 0)));
  });
}

function rdmaSettings(r: LinuxResources, make: (value: string) => Setting): Setting[] {
  return Object.entries(r.rdma ?? {}).flatMap(([device, limits]) => {
    const field = `rdma[${JSON.stringify(device)}]`;
    const values: string[] = [];
    if (given(limits?.hcaHandles)) values.push(`hca_handle=${int(limits.hcaHandles, `${field}.hcaHandles`, 0)}`);
    if (given(limits?.hcaObjects)) values.push(`hca_object=${int(limits.hcaObjects, `${field}.hcaObjects`, 0)}`);
    return values.length === 0 ? [] : [make(`${word(device, field)} ${values.join(' ')}`)];
  });
}

/**
 * v1's devices files: "a" in devices.deny first (a device no rule names is denied, as in the
 * eBPF program), unless the first rule already resets the list; then each rule in order.
 */
function v1DeviceSettings(rules: DeviceMatch[]): Setting[] {
  const entries = rules.filter((rule) => rule.access !== 0);
  const out: Setting[] = entries[0]?.type === 'a' ? [] : [s1('devices', 'devices.deny', 'a')];
  for (const rule of entries) {
    const access = (rule.access & 2 ? 'r' : '') + (rule.access & 4 ? 'w' : '') + (rule.access & 1 ? 'm' : '');
    const number = (n: number) => (n === -1 ? '*' : String(n));
    const entry = rule.type === 'a' ? 'a' : `${rule.type} ${number(rule.major)}:${number(rule.minor)} ${access}`;
    out.push(s1('devices', rule.allow ? 'devices.allow' : 'devices.deny', entry));
  }
  return out;
}

/** The v1 writes of `resources` (every group; v1-only fields included). */
export function v1Settings(r: LinuxResources): Setting[] {
  return groupsOf(r).flatMap((group) => V1_BUILDERS[group](r));
}

/** The cgroup2 writes of `resources`; the device rules are not among them (eBPF). */
export function v2Settings(r: LinuxResources): Setting[] {
  return groupsOf(r).flatMap((group) => V2_BUILDERS[group](r));
}

/**
 * The cgroup v2 controllers `resources` needs, with the field that needs each ("memory" for
 * linux.resources.memory, `unified["io.max"]` for a unified key), device rules aside (an eBPF
 * program, no controller): what a rootless container asks of the controllers delegated to it.
 */
export function v2ControllersByField(r: LinuxResources): Array<{ field: string; controller: string }> {
  const out: Array<{ field: string; controller: string }> = [];
  for (const group of groupsOf(r)) {
    if (group === 'devices') continue;
    for (const setting of V2_BUILDERS[group](r)) {
      if (setting.controller === 'cgroup') continue; // cgroup.* files: the core's, always there
      const field = group === 'unified' ? `unified[${JSON.stringify(setting.file)}]` : group === 'cpuset' ? `cpu.${setting.file === 'cpuset.cpus' ? 'cpus' : 'mems'}` : group;
      if (!out.some((o) => o.field === field && o.controller === setting.controller)) out.push({ field, controller: setting.controller });
    }
  }
  return out;
}

/**
 * Where `controller` stops on its way down the cgroup2 hierarchy (mounted at `unified`) to the
 * cgroup `cgroupPath`, for this process: the first ancestor that neither passes it on (its
 * cgroup.subtree_control) nor can be made to by us (the controller is not in its
 * cgroup.controllers, or its cgroup.subtree_control is not ours to write); null when every
 * ancestor passes it on or we may enable it there (or is not made yet, see below). A controller is delegated to a user when the
 * answer is null (systemd's Delegate= passes it on to the user's own cgroups).
 */
export function controllerStop(unified: string, cgroupPath: string, controller: string): string | null {
  const parts = cgroupPath.split('/').filter(Boolean);
  const words = (file: string) => {
    try {
      return new Set(fs.readFileSync(file, 'utf8').split(/\s+/).filter(Boolean));
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return new Set<string>();
      throw error;
    }
  };
  for (let depth = 0; depth < parts.length; depth++) {
    const dir = path.join(unified, ...parts.slice(0, depth));
    // Not made yet (the slice of a unit systemd is about to start): whoever makes it, we or the
    // user's systemd, owns it and may pass on whatever its parent passed on, checked above.
    if (!fs.existsSync(dir)) return null;
    const control = path.join(dir, 'cgroup.subtree_control');
    if (words(control).has(controller)) continue;
    if (!words(path.join(dir, 'cgroup.controllers')).has(controller)) return dir;
    try {
      fs.accessSync(control, fs.constants.W_OK);
    } catch {
      return dir;
    }
  }
  return null;
}

export interface ResourcePlan {
  settings: Setting[];
  /** The device rules and where they go: v1's files are among the settings, v2's an eBPF program. */
  devices: { version: 1 | 2; rules: DeviceMatch[] } | null;
  /** The cgroup2 controllers the settings need enabled from the root down. */
  controllers: Set<string>;
}

/**
 * Where each group of `resources` goes on this layout: pure v2 writes every group to the cgroup2
 * directory; v1 and hybrid use each group's v1 controller when it is mounted, else (hybrid) the
 * cgroup2 directory if `unifiedControllers` (its root's cgroup.controllers) offers it.
 */
export function planResources(r: LinuxResources, layout: CgroupLayout, unifiedControllers: ReadonlySet<string>): ResourcePlan {
  const plan: ResourcePlan = { settings: [], devices: null, controllers: new Set() };
  const pureV2 = isPureV2(layout);
  for (const group of groupsOf(r)) {
    const { v1, v2 } = GROUPS[group];
    let version: 1 | 2;
    if (pureV2) version = 2;
    else if (v1 !== null && layout.v1.has(v1)) version = 1;
    else if (layout.unified !== null && v2 !== null && (v2 === 'devices' || v2 === 'cgroup' || unifiedControllers.has(v2))) version = 2;
    else if (v1 !== null && group !== 'devices' && V1_BUILDERS[group](r).length === 0) continue; // nothing to set
    else if (v1 === null) throw new SpecError(`linux.resources.${group}: needs cgroup v2, and this host has no cgroup2 mount`);
    else throw new SpecError(`linux.resources.${group}: the ${v1} cgroup controller is not mounted${v2 === null ? '' : ` (nor ${v2} offered by cgroup v2)`}`);
    const settings = version === 1 ? V1_BUILDERS[group](r) : V2_BUILDERS[group](r);
    plan.settings.push(...settings);
    if (version === 2) {
      for (const s of settings) {
        if (s.controller === 'cgroup') continue; // cgroup.* files: the core's, always there
        // A unified key names its controller: one the host does not offer is named here.
        if (group === 'unified' && !unifiedControllers.has(s.controller)) {
          throw new SpecError(`linux.resources.unified[${JSON.stringify(s.file)}]: the ${s.controller} controller is not available ` +
            `(cgroup v2 offers: ${[...unifiedControllers].join(' ') || 'none'})`);
        }
        plan.controllers.add(s.controller);
      }
    }
    if (group === 'devices') plan.devices = { version, rules: parseDeviceRules(r.devices ?? []) };
  }
  return plan;
}

/** The cgroup directories under `dir`, parents before their children; none when it is gone. */
function subCgroups(dir: string): string[] {
  // A cgroup directory's link count is 2 + its subdirectories (kernfs keeps it so, v1 and v2):
  // 2 says there are none, for a stat instead of a listing of its few dozen files (~0.35 ms of
  // a delete). A file system that does not count them (1) is listed.
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (stat === undefined || stat.nlink === 2) return [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return [];
    throw error;
  }
  return entries.filter((e) => e.isDirectory()).flatMap((e) => [path.join(dir, e.name), ...subCgroups(path.join(dir, e.name))]);
}

// rmdir of one cgroup directory: gone (or never there), or EBUSY (processes still exiting, or
// sub-cgroups); any other error is thrown.
function removeCgroupDir(dir: string): 'removed' | 'busy' {
  try {
    fs.rmdirSync(dir);
  } catch (error) {
    if (isErrno(error, 'EBUSY')) return 'busy';
    if (!isErrno(error, 'ENOENT')) throw error;
  }
  return 'removed';
}

// Waits until the cgroup directory `dir`, which refused rmdir, may be removed, at most `ms`. A
// process SIGKILLed by delete can still be exiting when its pidfd has said so (a pid namespace's
// init is reported once the others are reaped, but the last of them may not have left the
// cgroup yet): a cgroup2 directory (v2's, or hybrid's unified one, removed first) says when its
// last process has left ("populated 0" in cgroup.events, whose change inotify reports), so the
// rmdir is retried then rather than after a 5 ms sleep (1 delete --force of a running container
// in 12 paid it here). A v1 directory says nothing, nor does one that was already unpopulated
// (refused for another reason: a sub-cgroup made meanwhile): `ms` passes.
async function untilUnpopulated(dir: string, ms: number): Promise<void> {
  const events = path.join(dir, 'cgroup.events');
  const unpopulated = () => /^populated 0$/m.test(fs.readFileSync(events, 'utf8'));
  try {
    if (!unpopulated()) {
      await untilChanged(events, unpopulated, ms, () => {});
      return;
    }
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error; // a v1 directory, or gone already: rmdir will say
  }
  await new Promise((resolve) => setTimeout(resolve, ms));
}

export class Cgroup {
  constructor(readonly layout: CgroupLayout, readonly cgroupPath: string) {
    if (!cgroupPath.startsWith('/') || cgroupPath.split('/').includes('..')) {
      throw new ContainerError('ERR_INVALID_STATE', `cgroup path "${cgroupPath}" must be absolute and must not contain ".."`);
    }
  }

  get isV2(): boolean {
    return isPureV2(this.layout);
  }

  /** The container's cgroup2 directory (on hybrid: membership, and the controllers v1 lacks). */
  get unifiedDir(): string | null {
    return this.layout.unified === null ? null : path.join(this.layout.unified, this.cgroupPath);
  }

  /** Every directory of this cgroup, one per hierarchy. */
  directories(): string[] {
    const dirs = new Set<string>();
    if (this.isV2) dirs.add(path.join(this.layout.unified!, this.cgroupPath));
    else {
      for (const mountPoint of this.layout.v1.values()) dirs.add(path.join(mountPoint, this.cgroupPath));
      if (this.layout.unified !== null) dirs.add(path.join(this.layout.unified, this.cgroupPath));
    }
    return [...dirs];
  }

  /** directories(), as its cgroup2 one (if any) and its v1 ones. */
  hierarchyDirectories(): { unified: string | null; v1: string[] } {
    if (this.isV2) return { unified: this.unifiedDir, v1: [] };
    return { unified: this.unifiedDir, v1: [...new Set([...this.layout.v1.values()].map((mountPoint) => path.join(mountPoint, this.cgroupPath)))] };
  }

  /** The cgroup.procs files a process is written into to join. */
  procsFiles(): string[] {
    return this.directories().map((dir) => path.join(dir, 'cgroup.procs'));
  }

  /**
   * Creates the cgroup and applies the resources. A cgroup that already has processes belongs
   * to someone else (the same id under another root, another runtime): joining it would put
   * their processes in our kill --all and delete, so that is refused.
   */
  create(resources: LinuxResources = {}): void {
    this.assertUnused();
    const cpuset = this.isV2 ? undefined : this.layout.v1.get('cpuset');
    let cpusetMade: string | undefined;
    for (const dir of this.directories()) {
      const made = fs.mkdirSync(dir, { recursive: true });
      if (cpuset !== undefined && dir === path.join(cpuset, this.cgroupPath)) cpusetMade = made;
    }
    if (cpuset !== undefined) this.inheritCpuset(cpusetMade);
    // On v2 every controller the host offers, so that limits set later (update) and the
    // statistics of events find their files; runc does the same.
    if (this.isV2) this.enableControllers(this.availableControllers(), false);
    this.apply(resources);
  }

  assertUnused(): void {
    const busy = this.pids();
    if (busy.length > 0) {
      throw new ContainerError('ERR_CONTAINER_EXISTS', `cgroup ${this.cgroupPath} is in use by other processes (${busy.slice(0, 5).join(', ')}): choose another id or linux.cgroupsPath`);
    }
  }

  /** Writes the settings of `resources` (also used by `update`). */
  apply(resources: LinuxResources): void {
    const plan = planResources(this.withCurrentValues(resources), this.layout,
      this.layout.unified === null ? new Set() : this.availableControllers());
    this.enableControllers(plan.controllers, true);
    this.checkBeforeUpdate(resources, plan);
    if (plan.devices?.version === 2) this.applyDeviceFilter(plan.devices.rules);
    const files = new HeldFile();
    try {
      for (let i = 0; i < plan.settings.length; i++) {
        const setting = plan.settings[i];
        const next = plan.settings[i + 1];
        try {
          this.write(setting, files);
        } catch (error) {
          if (!(setting.retryAfterNext && next !== undefined && isErrno(error, 'EINVAL'))) throw error;
          this.write(next, files);
          this.write(setting, files);
          i++;
        }
      }
    } finally {
      files.close();
    }
  }

  /** The ids of the device programs attached to the container's cgroup2 directory. */
  deviceFilterIds(): number[] {
    return this.withDirectoryFd((fd, dir) => bpfProgQuery(fd, BPF_CGROUP_DEVICE, dir).ids);
  }

  /**
   * Replaces the device program without a moment unguarded: the new one is attached next to
   * the old (BPF_F_ALLOW_MULTI: while both are, a device must pass both), then every older
   * one is detached, as runc and crun do. A cgroup's programs go with the cgroup.
   */
  private applyDeviceFilter(rules: DeviceMatch[]): void {
    const program = encodeProgram(deviceFilterProgram(rules));
    const progFd = loadDeviceProgram(program);
    try {
      this.withDirectoryFd((dirFd, dir) => {
        const old = bpfProgQuery(dirFd, BPF_CGROUP_DEVICE, dir).ids;
        bpfProgAttach(dirFd, progFd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, dir);
        for (const id of old) {
          let oldFd: number;
          try {
            oldFd = bpfProgGetFdById(id);
          } catch (error) {
            if (isErrno(error, 'ENOENT')) continue; // gone meanwhile
            throw error;
          }
          try {
            bpfProgDetach(dirFd, oldFd, BPF_CGROUP_DEVICE, dir);
          } catch (error) {
            if (!isErrno(error, 'ENOENT')) throw error;
          } finally {
            fs.closeSync(oldFd);
          }
        }
      });
    } finally {
      fs.closeSync(progFd);
    }
  }

  private withDirectoryFd<T>(action: (fd: number, dir: string) => T): T {
    const dir = this.unifiedDir;
    if (dir === null) throw new ContainerError('ERR_INVALID_STATE', 'no cgroup2 hierarchy is mounted');
    const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      return action(fd, dir);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * `update` gives only what changes; cpu.max and memory.swap.max are each computed from two
   * fields, so the one not given is taken from the cgroup as it is.
   */
  private withCurrentValues(r: LinuxResources): LinuxResources {
    const dir = this.unifiedDir;
    if (dir === null || !(this.isV2 || !this.layout.v1.has('cpu'))) return r;
    const current = (file: string): string | null => {
      try {
        return fs.readFileSync(path.join(dir, file), 'utf8').trim();
      } catch (error) {
        if (isErrno(error, 'ENOENT')) return null;
        throw error;
      }
    };
    const out: LinuxResources = { ...r };
    if (r.cpu !== undefined && set(r.cpu.quota) !== set(r.cpu.period)) {
      const [quota, period] = (current('cpu.max') ?? '').split(' ');
      if (period !== undefined) {
        out.cpu = { ...r.cpu };
        if (!set(r.cpu.quota)) out.cpu.quota = quota === 'max' ? -1 : Number(quota);
        if (!set(r.cpu.period)) out.cpu.period = Number(period);
      }
    }
    if (this.isV2 && r.memory !== undefined && set(r.memory.swap) && r.memory.swap !== -1 && !given(r.memory.limit)) {
      const limit = current('memory.max');
      if (limit !== null && limit !== 'max') out.memory = { ...r.memory, limit: Number(limit) };
    }
    return out;
  }

  // memory.checkBeforeUpdate: "rejecting the new limit" when it is below the current usage.
  private checkBeforeUpdate(r: LinuxResources, plan: ResourcePlan): void {
    const m = r.memory;
    if (m?.checkBeforeUpdate !== true || !set(m.limit) || m.limit === -1) return;
    const v2 = plan.settings.some((s) => s.file === 'memory.max');
    const file = v2 ? path.join(this.unifiedDir!, 'memory.current')
      : path.join(this.layout.v1.get('memory') ?? '/nonexistent', this.cgroupPath, 'memory.usage_in_bytes');
    let usage: number;
    try {
      usage = Number(fs.readFileSync(file, 'utf8').trim());
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return; // not created yet: nothing in use
      throw error;
    }
    if (m.limit! <= usage) {
      throw new SpecError(`linux.resources.memory.limit: ${m.limit} is not above the current usage ${usage} (checkBeforeUpdate)`);
    }
  }

  /** The controllers the cgroup2 root offers (its cgroup.controllers). */
  private availableControllers(): Set<string> {
    return this.controllersOf(this.layout.unified!);
  }

  private controllersOf(dir: string): Set<string> {
    try {
      return new Set(fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean));
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return new Set();
      throw error;
    }
  }

  /**
   * Enables controllers in cgroup.subtree_control of each ancestor, from the root down to the
   * container's parent: a cgroup2 directory has a controller's files only when its parent
   * delegates it. One write per controller, so that a refusal names it. `required`: a failure
   * is an error; else it is left for the setting that needs the controller to report.
   */
  private enableControllers(controllers: ReadonlySet<string>, required: boolean): void {
    if (controllers.size === 0 || this.layout.unified === null) return;
    const parts = this.cgroupPath.split('/').filter(Boolean);
    for (let depth = 0; depth < parts.length; depth++) {
      const dir = path.join(this.layout.unified, ...parts.slice(0, depth));
      const file = path.join(dir, 'cgroup.subtree_control');
      const enabled = new Set(fs.readFileSync(file, 'utf8').split(/\s+/).filter(Boolean));
      const offered = this.controllersOf(dir);
      for (const controller of controllers) {
        if (enabled.has(controller)) continue;
        if (!offered.has(controller)) {
          if (!required) continue;
          throw new SpecError(`cannot enable the ${controller} cgroup controller for ${this.cgroupPath}: ` +
            `${path.join(dir, 'cgroup.controllers')} does not offer it (${[...offered].join(' ') || 'none'})`);
        }
        try {
          fs.writeFileSync(file, `+${controller}`);
        } catch (error) {
          if (!required) continue;
          if (isErrno(error) && error.syscall === 'write') throw new ErrnoError(error.errno, 'write', file);
          throw error;
        }
      }
    }
  }

  /**
   * The pids of every process in the cgroup and its sub-cgroups (exec --cgroup), from the first
   * hierarchy: every process is in each (runc's GetAllPids).
   */
  pids(): number[] {
    const top = this.isV2 ? path.join(this.layout.unified!, this.cgroupPath)
      : path.join(this.layout.v1.get('pids') ?? this.layout.v1.get('freezer') ?? [...this.layout.v1.values()][0], this.cgroupPath);
    // Not made yet (create's check), or gone: no process, and no ENOENT error to make and catch.
    if (!fs.existsSync(top)) return [];
    return [top, ...subCgroups(top)].flatMap((dir) => {
      try {
        return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter((l) => l !== '').map(Number);
      } catch (error) {
        if (isErrno(error, 'ENOENT')) return [];
        throw error;
      }
    });
  }

  /**
   * Freezes (or thaws) every process of the cgroup and waits until the kernel says so. A cgroup
   * that is gone by the time it is thawed has nothing left to thaw: systemd removes a scope as
   * soon as its last process dies, and on v2 a SIGKILL ends even frozen processes.
   */
  async setFrozen(frozen: boolean): Promise<void> {
    try {
      // Freezing is asynchronous. v2 says when it is done: a change of cgroup.events ("frozen 1")
      // is a file-modified event, so we wait for it. v1 has no event: its state is polled.
      let reached: boolean;
      if (this.isV2) {
        const dir = path.join(this.layout.unified!, this.cgroupPath);
        const events = path.join(dir, 'cgroup.events');
        const isDone = () => /frozen (\d)/.exec(fs.readFileSync(events, 'utf8'))?.[1] === (frozen ? '1' : '0');
        reached = await untilChanged(events, isDone, FREEZE_TIMEOUT_MS, () => writeFile(path.join(dir, 'cgroup.freeze'), frozen ? '1' : '0'));
      } else {
        const file = path.join(this.freezerMount(), this.cgroupPath, 'freezer.state');
        const wanted = frozen ? 'FROZEN' : 'THAWED';
        writeFile(file, wanted);
        reached = false;
        for (let i = 0; i < FREEZE_TIMEOUT_MS && !reached; i++) {
          reached = fs.readFileSync(file, 'utf8').trim() === wanted;
          if (!reached) await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
      if (reached) return;
    } catch (error) {
      if (!frozen && isErrno(error, 'ENOENT')) return;
      throw error;
    }
    throw new ContainerError('ERR_INVALID_STATE', `cgroup ${this.cgroupPath} did not become ${frozen ? 'frozen' : 'thawed'} in time`);
  }

  /**
   * Signals every process of the cgroup while it is frozen, so that none can fork a child that
   * escapes the signal (runc's kill --all does the same). A cgroup already gone has nobody left.
   */
  async signalAll(signal: number | string): Promise<void> {
    if (this.pids().length === 0) return; // gone, or empty: nobody to signal, nothing to freeze
    let frozen = false;
    if (this.canFreeze) {
      try {
        await this.setFrozen(true);
        frozen = true;
      } catch (error) {
        if (isErrno(error, 'ENOENT')) return; // emptied and removed since (a systemd scope)
        if (!(error instanceof ContainerError)) throw error;
        // A cgroup that does not freeze in time (v1 waits for every task: one in uninterruptible
        // sleep, or one that CRIU is restoring, holds it FREEZING) is signalled all the same, as
        // runc's signalAllProcesses does: a delete --force must not stop there. It is thawed
        // below: a v1 task frozen meanwhile would not act on the signal before.
        log.warn(`${error.message}: its processes are signalled without it`);
      }
    }
    try {
      for (const pid of this.pids()) {
        try {
          kill(pid, signal);
        } catch (error) {
          if (!isErrno(error, 'ESRCH')) throw error;
        }
      }
    } finally {
      if (frozen) await this.setFrozen(false);
      else if (this.canFreeze) await this.setFrozen(false).catch((e) => log.warn((e as Error).message));
    }
  }

  get canFreeze(): boolean {
    return this.isV2 || this.layout.v1.has('freezer');
  }

  /**
   * Removes the cgroup once its processes are gone, and the sub-cgroups under it first (exec
   * --cgroup runs processes in them; runc's RemovePath does the same); EBUSY (still exiting) is
   * retried briefly.
   */
  async remove(): Promise<void> {
    for (const top of this.directories().reverse()) {
      // A cgroup with sub-cgroups refuses rmdir with EBUSY: they are listed (a readdir of each
      // hierarchy's directory, ~0.2 ms apiece) only then, not on every delete.
      if (removeCgroupDir(top) === 'removed') continue;
      for (const dir of [...subCgroups(top).reverse(), top]) {
        for (let attempt = 0; removeCgroupDir(dir) === 'busy'; attempt++) {
          if (attempt >= 200) fs.rmdirSync(dir); // throws its EBUSY
          await untilUnpopulated(dir, 5);
        }
      }
    }
  }

  /** The cgroup directory through which the container is frozen (v2's own, v1's freezer one). */
  freezerDir(): string {
    return this.isV2 ? path.join(this.layout.unified!, this.cgroupPath) : path.join(this.freezerMount(), this.cgroupPath);
  }

  /** Whether the cgroup is frozen now (asked to be: cgroup.freeze, freezer.state). */
  isFrozen(): boolean {
    return this.isV2
      ? fs.readFileSync(path.join(this.freezerDir(), 'cgroup.freeze'), 'utf8').trim() === '1'
      : fs.readFileSync(path.join(this.freezerDir(), 'freezer.state'), 'utf8').trim() !== 'THAWED';
  }

  private freezerMount(): string {
    const mount = this.layout.v1.get('freezer');
    if (mount === undefined) throw new ContainerError('ERR_INVALID_STATE', 'no freezer cgroup controller is mounted');
    return mount;
  }

  // A new v1 cpuset starts with no cpus and no mems, and no process may join it: copy the
  // parent's, as runc does. `made`: the first directory that create's mkdir made; it and those
  // below it are new, so empty, and get the values of its parent, read once. Otherwise (nothing
  // made, or a parent left empty by someone else) every level is read and an empty one filled.
  private inheritCpuset(made: string | undefined): void {
    const mount = this.layout.v1.get('cpuset')!;
    const parts = this.cgroupPath.split('/').filter(Boolean);
    if (made !== undefined) {
      const firstNew = path.relative(mount, made).split('/').length;
      const parent = path.join(mount, ...parts.slice(0, firstNew - 1));
      const values = ['cpuset.cpus', 'cpuset.mems'].map((file) => [file, fs.readFileSync(path.join(parent, file), 'utf8')]);
      if (values.every(([, value]) => value.trim() !== '')) {
        for (let depth = firstNew; depth <= parts.length; depth++) {
          for (const [file, value] of values) fs.writeFileSync(path.join(mount, ...parts.slice(0, depth), file), value);
        }
        return;
      }
    }
    for (let depth = 1; depth <= parts.length; depth++) {
      const dir = path.join(mount, ...parts.slice(0, depth));
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        if (fs.readFileSync(path.join(dir, file), 'utf8').trim() === '') {
          fs.writeFileSync(path.join(dir, file), fs.readFileSync(path.join(path.dirname(dir), file)));
        }
      }
    }
  }

  private write(setting: Setting, files: HeldFile): void {
    const mount = setting.version === 2 ? this.layout.unified : this.layout.v1.get(setting.controller);
    if (mount === undefined || mount === null) {
      throw new ContainerError('ERR_INVALID_STATE', `cannot set ${setting.file}: the ${setting.controller} cgroup controller is not mounted`);
    }
    const file = path.join(mount, this.cgroupPath, setting.file);
    try {
      files.write(file, setting.value);
    } catch (error) {
      // blkio.weight without CFQ, io.bfq.weight without BFQ: the other file, with its value.
      if (setting.fallback === undefined || !isErrno(error, 'ENOENT')) throw error;
      writeFile(path.join(mount, this.cgroupPath, setting.fallback.file), setting.fallback.value);
    }
    // Newer kernels keep memory.kmem.limit_in_bytes and ignore what is written to it ("Writing
    // any value to this file has no effect", the kernel logs): a limit that did not take is
    // refused, not dropped. (The kernel rounds a limit that takes down to a page.)
    if (setting.file === 'memory.kmem.limit_in_bytes' && setting.value !== '-1'
      && BigInt(fs.readFileSync(file, 'utf8').trim()) > BigInt(setting.value)) {
      throw new SpecError(`linux.resources.memory.kernel: ${setting.value} cannot be applied: this kernel ignores kernel memory limits (memory.kmem.limit_in_bytes)`);
    }
  }
}

// Cgroup files exist or not, they are never created (O_WRONLY, no O_CREAT): a missing one is
// ENOENT naming it. Node names no file for a failed write(2): the kernel's refusal of a value must.
function writeFile(file: string, value: string): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_TRUNC); // as runc opens them
  try {
    fs.writeSync(fd, value);
  } catch (error) {
    if (isErrno(error) && error.syscall === 'write') throw new ErrnoError(error.errno, 'write', file);
    throw error;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The cgroup file the last setting went to, kept open for the next setting of the same file:
 * v1's devices.allow takes one rule per write(2) (devcgroup_access_write parses one), and a
 * container's default rules are a dozen, each an open and a close of a kernfs file before.
 * Every value is still its own write, in the plan's order; a failed one names the file.
 */
class HeldFile {
  private file: string | undefined;
  private fd = -1;

  write(file: string, value: string): void {
    if (file !== this.file) {
      this.close();
      this.fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_TRUNC); // as runc opens them
      this.file = file;
    }
    try {
      fs.writeSync(this.fd, value);
    } catch (error) {
      if (isErrno(error) && error.syscall === 'write') throw new ErrnoError(error.errno, 'write', file);
      throw error;
    }
  }

  close(): void {
    if (this.fd === -1) return;
    const fd = this.fd;
    this.fd = -1;
    this.file = undefined;
    fs.closeSync(fd);
  }
}

/**
 * Loads a device program; when the kernel refuses it, loads it again with a log buffer so that
 * the error says why (the verifier's words).
 */
function loadDeviceProgram(program: Buffer): number {
  // The program calls no kernel helper, GPL-only or other, so any license string will do: ours.
  const license = 'Apache-2.0';
  try {
    return bpfProgLoad(BPF_PROG_TYPE_CGROUP_DEVICE, program, license);
  } catch (error) {
    if (!isErrno(error)) throw error;
    const log = Buffer.alloc(64 * 1024);
    try {
      return bpfProgLoad(BPF_PROG_TYPE_CGROUP_DEVICE, program, license, log);
    } catch (again) {
      const text = log.toString('utf8', 0, Math.max(0, log.indexOf(0))).trim();
      if (isErrno(again) && text !== '') again.message += ` (verifier: ${text.split('\n').slice(-3).join(' | ')})`;
      throw again;
    }
  }
}

// How long a freeze or a thaw may take before it is an error (runc gives up after about a second too).
const FREEZE_TIMEOUT_MS = 1000;

/**
 * Runs `act`, then waits until `isDone()` holds, re-checking on each inotify event of `file`
 * (watched before `act`, so no change is missed) and once more at the deadline. Whether it held.
 */
function untilChanged(file: string, isDone: () => boolean, timeoutMs: number, act: () => void): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const watcher = fs.watch(file, { persistent: false });
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: () => boolean) => {
      clearTimeout(timer);
      watcher.close();
      try {
        resolve(outcome());
      } catch (error) {
        reject(error);
      }
    };
    const check = () => {
      try {
        if (isDone()) finish(() => true);
      } catch (error) {
        finish(() => {
          throw error;
        });
      }
    };
    watcher.on('change', check);
    watcher.on('error', (error) => finish(() => {
      throw error;
    }));
    timer = setTimeout(() => finish(isDone), timeoutMs);
    try {
      act();
    } catch (error) {
      finish(() => {
        throw error;
      });
      return;
    }
    check();
  });
}
