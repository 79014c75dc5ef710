// A container's cgroup, on cgroup v1, v2, or the hybrid of both (v1 controllers plus a cgroup2
// mount at /sys/fs/cgroup/unified, as on these machines: crun refuses that layout, runc
// handles it, so do we). The hierarchy is read from /proc/self/mountinfo; every write that
// fails is reported with the file and its errno, never skipped.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrnoError, isErrno } from '../sys/errno';
import { kill } from '../sys/process';
import { ContainerError } from './errors';

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
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (after === undefined) continue;
    const mountPoint = before.split(' ')[4];
    const [fsType, , superOptions] = after.split(' ');
    if (fsType === 'cgroup2') layout.unified ??= mountPoint;
    if (fsType !== 'cgroup') continue;
    for (const option of (superOptions ?? '').split(',')) {
      if (V1_CONTROLLERS.has(option) && !layout.v1.has(option)) layout.v1.set(option, mountPoint);
    }
  }
  return layout;
}

let hostLayout: CgroupLayout | undefined;
export function detectLayout(): CgroupLayout {
  hostLayout ??= parseLayout(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  return hostLayout;
}

export interface LinuxResources {
  memory?: { limit?: number; reservation?: number; swap?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit?: number };
  blockIO?: { weight?: number };
  devices?: Array<{ allow: boolean; type?: string; major?: number; minor?: number; access?: string }>;
}

/** One setting to write: which file under which controller. */
interface Setting {
  controller: string;
  file: string;
  value: string;
}

export class Cgroup {
  constructor(readonly layout: CgroupLayout, readonly cgroupPath: string) {
    if (!cgroupPath.startsWith('/') || cgroupPath.split('/').includes('..')) {
      throw new ContainerError('ERR_INVALID_STATE', `cgroup path "${cgroupPath}" must be absolute and must not contain ".."`);
    }
  }

  get isV2(): boolean {
    return this.layout.v1.size === 0 && this.layout.unified !== null;
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
    for (const dir of this.directories()) fs.mkdirSync(dir, { recursive: true });
    if (!this.isV2 && this.layout.v1.has('cpuset')) this.inheritCpuset();
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
    for (const setting of this.isV2 ? v2Settings(resources) : v1Settings(resources)) this.write(setting);
  }

  /** The pids of every process in the cgroup (from the first hierarchy: all list the same). */
  pids(): number[] {
    const file = this.isV2 ? path.join(this.layout.unified!, this.cgroupPath, 'cgroup.procs')
      : path.join(this.layout.v1.get('pids') ?? this.layout.v1.get('freezer') ?? [...this.layout.v1.values()][0], this.cgroupPath, 'cgroup.procs');
    try {
      return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map(Number);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
  }

  /** Freezes (or thaws) every process of the cgroup and waits until the kernel says so. */
  async setFrozen(frozen: boolean): Promise<void> {
    const [file, value, done] = this.isV2
      ? [path.join(this.layout.unified!, this.cgroupPath, 'cgroup.freeze'), frozen ? '1' : '0', null]
      : [path.join(this.freezerMount(), this.cgroupPath, 'freezer.state'), frozen ? 'FROZEN' : 'THAWED', frozen ? 'FROZEN' : 'THAWED'];
    fs.writeFileSync(file, value);
    // Freezing is asynchronous: poll the state, briefly (the kernel offers no event on v1).
    for (let i = 0; i < 1000; i++) {
      const state = this.isV2
        ? /frozen (\d)/.exec(fs.readFileSync(path.join(this.layout.unified!, this.cgroupPath, 'cgroup.events'), 'utf8'))?.[1] === (frozen ? '1' : '0')
        : fs.readFileSync(file, 'utf8').trim() === done;
      if (state) return;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    throw new ContainerError('ERR_INVALID_STATE', `cgroup ${this.cgroupPath} did not become ${frozen ? 'frozen' : 'thawed'} in time`);
  }

  /**
   * Signals every process of the cgroup while it is frozen, so that none can fork a child that
   * escapes the signal (runc's kill --all does the same). A cgroup already gone has nobody left.
   */
  async signalAll(signal: number | string): Promise<void> {
    if (this.pids().length === 0) return; // gone, or empty: nobody to signal, nothing to freeze
    if (this.canFreeze) await this.setFrozen(true);
    try {
      for (const pid of this.pids()) {
        try {
          kill(pid, signal);
        } catch (error) {
          if (!isErrno(error, 'ESRCH')) throw error;
        }
      }
    } finally {
      if (this.canFreeze) await this.setFrozen(false);
    }
  }

  get canFreeze(): boolean {
    return this.isV2 || this.layout.v1.has('freezer');
  }

  /** Removes the cgroup once its processes are gone; EBUSY (still exiting) is retried briefly. */
  async remove(): Promise<void> {
    for (const dir of this.directories().reverse()) {
      for (let attempt = 0; ; attempt++) {
        try {
          fs.rmdirSync(dir);
          break;
        } catch (error) {
          if (isErrno(error, 'ENOENT')) break;
          if (!isErrno(error, 'EBUSY') || attempt >= 200) throw error;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
    }
  }

  private freezerMount(): string {
    const mount = this.layout.v1.get('freezer');
    if (mount === undefined) throw new ContainerError('ERR_INVALID_STATE', 'no freezer cgroup controller is mounted');
    return mount;
  }

  // A new v1 cpuset starts with no cpus and no mems, and no process may join it: copy the
  // parent's, as runc does.
  private inheritCpuset(): void {
    const mount = this.layout.v1.get('cpuset')!;
    const parts = this.cgroupPath.split('/').filter(Boolean);
    for (let depth = 1; depth <= parts.length; depth++) {
      const dir = path.join(mount, ...parts.slice(0, depth));
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        if (fs.readFileSync(path.join(dir, file), 'utf8').trim() === '') {
          fs.writeFileSync(path.join(dir, file), fs.readFileSync(path.join(path.dirname(dir), file)));
        }
      }
    }
  }

  private write(setting: Setting): void {
    const mount = this.isV2 ? this.layout.unified! : this.layout.v1.get(setting.controller);
    if (mount === undefined) {
      throw new ContainerError('ERR_INVALID_STATE', `cannot set ${setting.file}: the ${setting.controller} cgroup controller is not mounted`);
    }
    const file = path.join(mount, this.cgroupPath, setting.file);
    try {
      fs.writeFileSync(file, setting.value);
    } catch (error) {
      // Node names no file for a failed write(2): the kernel's refusal of a value must.
      if (isErrno(error) && error.syscall === 'write') throw new ErrnoError(error.errno, 'write', file);
      throw error;
    }
  }
}

function v1Settings(r: LinuxResources): Setting[] {
  const s: Setting[] = [];
  const add = (controller: string, file: string, value: number | string | undefined) => {
    if (value !== undefined) s.push({ controller, file, value: String(value) });
  };
  add('memory', 'memory.limit_in_bytes', r.memory?.limit);
  add('memory', 'memory.soft_limit_in_bytes', r.memory?.reservation);
  add('memory', 'memory.memsw.limit_in_bytes', r.memory?.swap);
  add('cpu', 'cpu.shares', r.cpu?.shares);
  add('cpu', 'cpu.cfs_period_us', r.cpu?.period);
  add('cpu', 'cpu.cfs_quota_us', r.cpu?.quota);
  add('cpuset', 'cpuset.cpus', r.cpu?.cpus);
  add('cpuset', 'cpuset.mems', r.cpu?.mems);
  add('pids', 'pids.max', r.pids?.limit === undefined ? undefined : r.pids.limit <= 0 ? 'max' : r.pids.limit);
  add('blkio', 'blkio.weight', r.blockIO?.weight);
  for (const rule of r.devices ?? []) {
    const major = rule.major === undefined || rule.major < 0 ? '*' : rule.major;
    const minor = rule.minor === undefined || rule.minor < 0 ? '*' : rule.minor;
    const entry = rule.type === undefined || rule.type === 'a' ? 'a' : `${rule.type} ${major}:${minor} ${rule.access ?? 'rwm'}`;
    add('devices', rule.allow ? 'devices.allow' : 'devices.deny', entry);
  }
  return s;
}

/** The cgroup v2 files and values of `resources` (systemd.ts reads its unit properties from them). */
export function v2Settings(r: LinuxResources): Setting[] {
  const s: Setting[] = [];
  const add = (file: string, value: number | string | undefined) => {
    if (value !== undefined) s.push({ controller: file.split('.')[0], file, value: String(value) });
  };
  add('memory.max', r.memory?.limit);
  add('memory.low', r.memory?.reservation);
  // v1's memsw limit counts memory and swap together; v2's swap.max counts swap alone.
  if (r.memory?.swap !== undefined && r.memory.limit !== undefined) add('memory.swap.max', Math.max(0, r.memory.swap - r.memory.limit));
  // The OCI mapping of cpu shares (2..262144) onto cpu.weight (1..10000), as runc and crun use.
  if (r.cpu?.shares !== undefined) add('cpu.weight', 1 + Math.floor(((r.cpu.shares - 2) * 9999) / 262142));
  if (r.cpu?.quota !== undefined || r.cpu?.period !== undefined) {
    add('cpu.max', `${r.cpu?.quota === undefined || r.cpu.quota < 0 ? 'max' : r.cpu.quota} ${r.cpu?.period ?? 100000}`);
  }
  add('cpuset.cpus', r.cpu?.cpus);
  add('cpuset.mems', r.cpu?.mems);
  add('pids.max', r.pids?.limit === undefined ? undefined : r.pids.limit <= 0 ? 'max' : r.pids.limit);
  if (r.blockIO?.weight !== undefined) add('io.weight', `default ${1 + Math.floor(((r.blockIO.weight - 10) * 9999) / 990)}`);
  if ((r.devices ?? []).some((d) => !(d.allow === false && (d.type === undefined || d.type === 'a')))) {
    throw new ContainerError('ERR_INVALID_STATE', 'device rules on cgroup v2 need an eBPF device filter, which runcell does not load yet');
  }
  return s;
}
