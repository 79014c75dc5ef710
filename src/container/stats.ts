// `runcell events`: a container's resource usage, read from its cgroup, in runc's event shape
// ({"type":"stats","id":...,"data":{cpu,memory,pids,blkio}}), which containerd decodes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../sys/errno';
import type { Cgroup } from './cgroups';

export interface Stats {
  cpu: { usage: { total: number; percpu?: number[]; kernel: number; user: number }; throttling: { periods: number; throttledPeriods: number; throttledTime: number } };
  memory: { usage: { limit: number; usage: number; max: number; failcnt: number }; swap?: { limit: number; usage: number; max: number; failcnt: number }; raw: Record<string, number> };
  pids: { current: number; limit: number };
  blkio: { ioServiceBytesRecursive: Array<{ major: number; minor: number; op: string; value: number }> };
}

const MAX = 2 ** 63 - 1; // what "max" means in a limit

function reader(dir: string) {
  const text = (file: string): string | null => {
    try {
      return fs.readFileSync(path.join(dir, file), 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'EOPNOTSUPP', 'ENOTSUP')) return null; // a file this kernel lacks
      throw error;
    }
  };
  const number = (file: string): number => {
    const value = text(file)?.trim();
    return value === undefined || value === '' ? 0 : value === 'max' ? MAX : Number(value);
  };
  const keyed = (file: string): Record<string, number> => Object.fromEntries((text(file) ?? '').split('\n')
    .filter((l) => l.includes(' ')).map((l) => { const [k, v] = l.split(/\s+/); return [k, Number(v)]; }));
  return { text, number, keyed };
}

export function cgroupStats(cgroup: Cgroup): Stats {
  const layout = cgroup.layout;
  if (cgroup.isV2) {
    const r = reader(path.join(layout.unified!, cgroup.cgroupPath));
    const cpu = r.keyed('cpu.stat');
    const io = (r.text('io.stat') ?? '').split('\n').filter(Boolean).flatMap((line) => {
      const [device, ...fields] = line.split(' ');
      const [major, minor] = device.split(':').map(Number);
      return fields.map((f) => f.split('=')).filter(([k]) => k === 'rbytes' || k === 'wbytes')
        .map(([k, v]) => ({ major, minor, op: k === 'rbytes' ? 'Read' : 'Write', value: Number(v) }));
    });
    return {
      cpu: {
        usage: { total: (cpu.usage_usec ?? 0) * 1000, kernel: (cpu.system_usec ?? 0) * 1000, user: (cpu.user_usec ?? 0) * 1000 },
        throttling: { periods: cpu.nr_periods ?? 0, throttledPeriods: cpu.nr_throttled ?? 0, throttledTime: (cpu.throttled_usec ?? 0) * 1000 },
      },
      memory: {
        usage: { limit: r.number('memory.max'), usage: r.number('memory.current'), max: r.number('memory.peak'), failcnt: r.keyed('memory.events').max ?? 0 },
        swap: { limit: r.number('memory.swap.max'), usage: r.number('memory.swap.current'), max: 0, failcnt: 0 },
        raw: r.keyed('memory.stat'),
      },
      pids: { current: r.number('pids.current'), limit: r.number('pids.max') },
      blkio: { ioServiceBytesRecursive: io },
    };
  }
  const at = (controller: string) => reader(path.join(layout.v1.get(controller) ?? '/nonexistent', cgroup.cgroupPath));
  const cpuacct = at('cpuacct');
  const cpu = at('cpu').keyed('cpu.stat');
  const memory = at('memory');
  const pids = at('pids');
  const io = (at('blkio').text('blkio.throttle.io_service_bytes_recursive') ?? '').split('\n')
    .map((l) => l.split(' ')).filter((f) => f.length === 3)
    .map(([device, op, value]) => ({ major: Number(device.split(':')[0]), minor: Number(device.split(':')[1]), op, value: Number(value) }));
  return {
    cpu: {
      usage: {
        total: cpuacct.number('cpuacct.usage'),
        percpu: (cpuacct.text('cpuacct.usage_percpu') ?? '').trim().split(/\s+/).filter(Boolean).map(Number),
        kernel: cpuacct.number('cpuacct.usage_sys'),
        user: cpuacct.number('cpuacct.usage_user'),
      },
      throttling: { periods: cpu.nr_periods ?? 0, throttledPeriods: cpu.nr_throttled ?? 0, throttledTime: cpu.throttled_time ?? 0 },
    },
    memory: {
      usage: {
        limit: memory.number('memory.limit_in_bytes'), usage: memory.number('memory.usage_in_bytes'),
        max: memory.number('memory.max_usage_in_bytes'), failcnt: memory.number('memory.failcnt'),
      },
      swap: {
        limit: memory.number('memory.memsw.limit_in_bytes'), usage: memory.number('memory.memsw.usage_in_bytes'),
        max: memory.number('memory.memsw.max_usage_in_bytes'), failcnt: memory.number('memory.memsw.failcnt'),
      },
      raw: memory.keyed('memory.stat'),
    },
    pids: { current: pids.number('pids.current'), limit: pids.number('pids.max') },
    blkio: { ioServiceBytesRecursive: io },
  };
}
