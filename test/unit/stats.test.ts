// Statistics in runc's event shape, from fake v1 and v2 hierarchies (files as the kernel writes
// them), and the exact JSON of counters beyond 2^53.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cgroup } from '../../src/container/cgroups';
import { cgroupStats, eventJson, parseBlkioV1, parseCounter, parseCpuList, parseIOStat, parsePSI } from '../../src/container/stats';
import { tempDir } from '../helpers/env';

let dir: string;
beforeEach(() => (dir = tempDir()));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function files(at: string, contents: Record<string, string>): void {
  fs.mkdirSync(at, { recursive: true });
  for (const [name, text] of Object.entries(contents)) fs.writeFileSync(path.join(at, name), text);
}

describe('parsers', () => {
  it('read counters exactly: numbers while safe, bigints above, "max" as 2^64-1', () => {
    expect(parseCounter('42')).toBe(42);
    expect(parseCounter('9223372036854771712')).toBe(9223372036854771712n);
    expect(parseCounter('max')).toBe(2n ** 64n - 1n);
    expect(parseCounter('')).toBe(0);
  });

  it('read cpu lists, pressure, io.stat and v1 blkio tables', () => {
    expect(parseCpuList('0-2,4\n')).toEqual([0, 1, 2, 4]);
    expect(parseCpuList('')).toEqual([]);
    expect(parsePSI('some avg10=1.50 avg60=0.00 avg300=0.00 total=123\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n')).toEqual({
      some: { avg10: 1.5, avg60: 0, avg300: 0, total: 123 }, full: { avg10: 0, avg60: 0, avg300: 0, total: 7 },
    });
    expect(parseIOStat('254:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n')).toEqual({
      // omitempty, as runc's BlkioEntry: minor 0 and a 0 value are left out
      ioServiceBytesRecursive: [{ major: 254, op: 'Read', value: 4096 }, { major: 254, op: 'Write' }],
      ioServicedRecursive: [{ major: 254, op: 'Read', value: 1 }, { major: 254, op: 'Write' }],
    });
    expect(parseBlkioV1('8:0 Read 512\n8:0 Write 0\nTotal 512\n')).toEqual([{ major: 8, op: 'Read', value: 512 }, { major: 8, op: 'Write' }]);
  });

  it('write bigints digit for digit in the event JSON', () => {
    expect(eventJson({ type: 'stats', id: 'c', data: { limit: 2n ** 64n - 1n, usage: 5 } }))
      .toBe('{"type":"stats","id":"c","data":{"limit":18446744073709551615,"usage":5}}');
    expect(eventJson({ type: 'oom', id: 'c' })).toBe('{"type":"oom","id":"c"}');
  });
});

describe('cgroupStats', () => {
  it('on v2: cpu.stat in nanoseconds, memory with swap counted as runc does, pids, io, hugetlb, cpuset, PSI', () => {
    files(path.join(dir, 'c'), {
      'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 20\n',
      'cpu.pressure': 'some avg10=0.00 avg60=0.00 avg300=0.00 total=9\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=3\n',
      'memory.current': '1048576\n', 'memory.max': '33554432\n', 'memory.peak': '2097152\n', 'memory.events': 'low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n',
      'memory.swap.current': '4096\n', 'memory.swap.max': 'max\n', 'memory.stat': 'anon 8192\nfile 4096\n',
      'pids.current': '3\n', 'pids.max': 'max\n', 'io.stat': '254:0 rbytes=8192 wbytes=4096 rios=2 wios=1\n',
      'hugetlb.2MB.current': '0\n', 'hugetlb.2MB.events': 'max 3\n', 'hugetlb.2MB.max': '0\n',
      'cpuset.cpus': '\n', 'cpuset.cpus.effective': '0-1\n', 'cpuset.mems.effective': '0\n',
    });
    const stats = cgroupStats(new Cgroup({ v1: new Map(), unified: dir }, '/c'));
    expect(stats.cpu).toEqual({
      usage: { total: 1500000, kernel: 500000, user: 1000000 },
      throttling: { periods: 4, throttledPeriods: 1, throttledTime: 20000 },
      psi: { some: { avg10: 0, avg60: 0, avg300: 0, total: 9 }, full: { avg10: 0, avg60: 0, avg300: 0, total: 3 } },
    });
    expect(stats.memory).toEqual({
      cache: 4096,
      usage: { limit: 33554432, usage: 1048576, max: 2097152, failcnt: 2 },
      swap: { limit: 2n ** 64n - 1n, usage: 1048576 + 4096, failcnt: 0 },
      kernel: { limit: 0, failcnt: 0 }, kernelTCP: { limit: 0, failcnt: 0 },
      raw: { anon: 8192, file: 4096 },
    });
    expect(stats.pids).toEqual({ current: 3 }); // "max" is no limit: 0, left out as runc does
    expect(stats.blkio.ioServiceBytesRecursive).toEqual([{ major: 254, op: 'Read', value: 8192 }, { major: 254, op: 'Write', value: 4096 }]);
    expect(stats.hugetlb).toEqual({ '2MB': { failcnt: 3 } });
    expect(stats.cpuset.cpus).toEqual([0, 1]);
    expect(stats.cpuset.mems).toEqual([0]);
    expect(stats.network_interfaces).toBeNull();
    expect(stats.intel_rdt).toEqual({});
  });

  it('on v2, a limited swap is reported with the memory limit added (v1\'s memory+swap)', () => {
    files(path.join(dir, 'c'), { 'memory.max': '1000\n', 'memory.swap.max': '500\n', 'memory.current': '10\n', 'memory.swap.current': '0\n' });
    expect(cgroupStats(new Cgroup({ v1: new Map(), unified: dir }, '/c')).memory.swap).toEqual({ limit: 1500, usage: 10, failcnt: 0 });
  });

  it('on v1 (hybrid): cpuacct, cpu.stat, cpuset, memory with kmem, pids, the throttle blkio tables, hugetlb from cgroup v2', () => {
    const mount = (name: string) => path.join(dir, name);
    files(path.join(mount('cpuacct'), 'c'), {
      'cpuacct.usage': '3000\n', 'cpuacct.usage_percpu': '2000 1000 \n', 'cpuacct.usage_all': 'cpu user system\n0 1500 500\n1 1000 0\n',
      'cpuacct.stat': 'user 2\nsystem 1\n',
    });
    files(path.join(mount('cpu'), 'c'), { 'cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n' });
    files(path.join(mount('cpuset'), 'c'), {
      'cpuset.cpus': '0-1\n', 'cpuset.mems': '0\n', 'cpuset.cpu_exclusive': '0\n', 'cpuset.sched_load_balance': '1\n', 'cpuset.sched_relax_domain_level': '-1\n',
    });
    const memory: Record<string, string> = { 'memory.stat': 'cache 0\ntotal_cache 0\nrss 4096\n' };
    for (const prefix of ['memory', 'memory.memsw', 'memory.kmem', 'memory.kmem.tcp']) {
      Object.assign(memory, { [`${prefix}.limit_in_bytes`]: '9223372036854771712\n', [`${prefix}.usage_in_bytes`]: '4096\n', [`${prefix}.max_usage_in_bytes`]: '8192\n', [`${prefix}.failcnt`]: '0\n' });
    }
    memory['memory.kmem.tcp.usage_in_bytes'] = '0\n';
    memory['memory.kmem.tcp.max_usage_in_bytes'] = '0\n';
    files(path.join(mount('memory'), 'c'), memory);
    files(path.join(mount('pids'), 'c'), { 'pids.current': '2\n', 'pids.max': '40\n' });
    files(path.join(mount('blkio'), 'c'), {
      'blkio.throttle.io_service_bytes_recursive': '7:0 Read 4096\n7:0 Write 0\n7:0 Sync 4096\n7:0 Async 0\n7:0 Discard 0\n7:0 Total 4096\nTotal 4096\n',
      'blkio.throttle.io_serviced_recursive': 'Total 0\n',
    });
    files(path.join(mount('unified'), 'c'), { 'hugetlb.1GB.current': '0\n', 'hugetlb.1GB.events': 'max 0\n' });
    const layout = { v1: new Map(['cpuacct', 'cpu', 'cpuset', 'memory', 'pids', 'blkio'].map((c) => [c, mount(c)])), unified: mount('unified') };
    const stats = cgroupStats(new Cgroup(layout, '/c'));
    expect(stats.cpu).toEqual({
      usage: { total: 3000, percpu: [2000, 1000], percpu_kernel: [500, 0], percpu_user: [1500, 1000], kernel: 10000000, user: 20000000 },
      throttling: {},
    });
    expect(stats.cpuset).toMatchObject({ cpus: [0, 1], mems: [0], sched_load_balance: 1, sched_relax_domain_level: -1, cpu_exclusive: 0 });
    expect(stats.memory.usage).toEqual({ limit: 9223372036854771712n, usage: 4096, max: 8192, failcnt: 0 });
    expect(stats.memory.kernelTCP).toEqual({ limit: 9223372036854771712n, failcnt: 0 });
    expect(stats.memory).not.toHaveProperty('cache');
    expect(stats.pids).toEqual({ current: 2, limit: 40 });
    expect(stats.blkio).toEqual({
      ioServiceBytesRecursive: [
        { major: 7, op: 'Read', value: 4096 }, { major: 7, op: 'Write' }, { major: 7, op: 'Sync', value: 4096 },
        { major: 7, op: 'Async' }, { major: 7, op: 'Discard' }, { major: 7, op: 'Total', value: 4096 },
      ],
    });
    expect(stats.hugetlb).toEqual({ '1GB': { failcnt: 0 } });
  });
});
