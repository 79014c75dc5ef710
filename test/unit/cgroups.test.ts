// Cgroup layouts, and every conversion of linux.resources into v1 and v2 files, as pure
// functions; then the writes against fake hierarchies (files made beforehand, as the kernel's).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Cgroup, blkioToIOWeight, parseLayout, planResources, sharesToWeight, swapToV2, v1Settings, v2Settings, type CgroupLayout,
} from '../../src/container/cgroups';
import { tempDir } from '../helpers/env';

const HYBRID = `
25 21 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
`;
const V2 = '26 21 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n';

/** file -> value, in write order (a file written twice shows its last value). */
const files = (settings: Array<{ file: string; value: string }>) => settings.map((s) => [s.file, s.value]);

describe('cgroup layouts', () => {
  it('reads v1 controllers (shared mounts too), named hierarchies aside, and the unified mount', () => {
    const layout = parseLayout(HYBRID);
    expect([...layout.v1.entries()]).toEqual([
      ['cpu', '/sys/fs/cgroup/cpu,cpuacct'], ['cpuacct', '/sys/fs/cgroup/cpu,cpuacct'], ['memory', '/sys/fs/cgroup/memory'],
    ]);
    expect(layout.unified).toBe('/sys/fs/cgroup/unified');
    const cgroup = new Cgroup(layout, '/runcell/x');
    expect(cgroup.isV2).toBe(false);
    expect(cgroup.directories()).toEqual(['/sys/fs/cgroup/cpu,cpuacct/runcell/x', '/sys/fs/cgroup/memory/runcell/x', '/sys/fs/cgroup/unified/runcell/x']);
    expect(parseLayout(V2)).toEqual({ v1: new Map(), unified: '/sys/fs/cgroup' });
    expect(new Cgroup(parseLayout(V2), '/c').isV2).toBe(true);
    expect(() => new Cgroup(layout, 'relative/../x')).toThrow(/must be absolute/);
  });

  it('reads mountinfo as proc(5) writes it: optional fields, escaped spaces, the first mount of a hierarchy, no trailing newline', () => {
    const text = [
      '31 25 0:28 / /sys/fs/cgroup/freezer rw,nosuid shared:12 master:3 - cgroup cgroup rw,freezer',
      '40 25 0:30 / /mnt/cgroup\\040v2 rw shared:20 - cgroup2 cgroup2 rw',
      '41 25 0:30 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw',
      '42 25 0:28 /sub /srv/freezer rw - cgroup cgroup rw,freezer',
      '43 25 0:31 / /data/cgroup rw - ext4 /dev/sda1 rw,cgroup',
      '44 25 0:32 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids',
    ].join('\n');
    const layout = parseLayout(text);
    expect([...layout.v1.entries()]).toEqual([['freezer', '/sys/fs/cgroup/freezer'], ['pids', '/sys/fs/cgroup/pids']]);
    expect(layout.unified).toBe('/mnt/cgroup\\040v2');
    expect(parseLayout('')).toEqual({ v1: new Map(), unified: null });
  });
});

describe('conversions', () => {
  it('cpu shares to cpu.weight, as runc: 2 -> 1, 1024 -> 39, 262144 -> 10000', () => {
    expect([2, 1024, 262144, 512, 1].map(sharesToWeight)).toEqual([1, 39, 10000, 20, 1]);
  });

  it('blkio weight to io.weight, as runc: 10 -> 1, 500 -> 4950, 1000 -> 10000', () => {
    expect([10, 500, 1000].map(blkioToIOWeight)).toEqual([1, 4950, 10000]);
  });

  it('swap (memory+swap) to memory.swap.max (swap alone), as runc', () => {
    expect(swapToV2(3000, 1000)).toBe('2000');
    expect(swapToV2(1000, 1000)).toBe('0'); // as much as memory: no swap
    expect(swapToV2(-1, 1000)).toBe('max');
    expect(swapToV2(undefined, -1)).toBe('max'); // unlimited memory, swap unset: unlimited swap
    expect(swapToV2(0, -1)).toBe('max');
    expect(swapToV2(undefined, 1000)).toBeNull();
    expect(swapToV2(0, 1000)).toBeNull();
    expect(() => swapToV2(3000, undefined)).toThrow('linux.resources.memory.swap: a swap limit needs a memory limit');
    expect(() => swapToV2(3000, -1)).toThrow('needs a memory limit');
    expect(() => swapToV2(500, 1000)).toThrow('linux.resources.memory.swap: 500 is below memory.limit 1000');
  });
});

describe('v2 settings', () => {
  it('memory: limit, reservation -> low, swap -> swap.max; -1 is max, 0 is left alone', () => {
    expect(files(v2Settings({ memory: { limit: 1000, reservation: 500, swap: 3000 } }))).toEqual([
      ['memory.swap.max', '2000'], ['memory.max', '1000'], ['memory.low', '500'],
    ]);
    expect(files(v2Settings({ memory: { limit: -1, reservation: -1 } }))).toEqual([['memory.swap.max', 'max'], ['memory.max', 'max'], ['memory.low', 'max']]);
    expect(files(v2Settings({ memory: { limit: 0, reservation: 0, swap: 0 } }))).toEqual([]);
    expect(files(v2Settings({ memory: { disableOOMKiller: false, useHierarchy: true, kernel: 0 } }))).toEqual([]);
  });

  it('memory: fields v2 has no file for are errors naming them', () => {
    expect(() => v2Settings({ memory: { swappiness: 60 } })).toThrow('linux.resources.memory.swappiness: not supported on cgroup v2');
    expect(() => v2Settings({ memory: { swappiness: 0 } })).toThrow('linux.resources.memory.swappiness'); // 0 means something on v1
    expect(() => v2Settings({ memory: { disableOOMKiller: true } })).toThrow('linux.resources.memory.disableOOMKiller: not supported on cgroup v2');
    expect(() => v2Settings({ memory: { useHierarchy: false } })).toThrow('linux.resources.memory.useHierarchy');
    expect(() => v2Settings({ memory: { kernel: 1 << 20 } })).toThrow('linux.resources.memory.kernel');
    expect(() => v2Settings({ memory: { kernelTCP: 1 << 20 } })).toThrow('linux.resources.memory.kernelTCP');
    expect(() => v2Settings({ memory: { limit: 'lots' as unknown as number } })).toThrow('linux.resources.memory.limit: "lots" is not an integer');
  });

  it('cpu: shares -> weight, quota and period -> cpu.max ("max" without a quota), burst, idle', () => {
    expect(files(v2Settings({ cpu: { shares: 1024, quota: 20000, period: 50000, burst: 1000, idle: 1 } }))).toEqual([
      ['cpu.weight', '39'], ['cpu.max', '20000 50000'], ['cpu.max.burst', '1000'], ['cpu.idle', '1'],
    ]);
    expect(files(v2Settings({ cpu: { quota: 20000 } }))).toEqual([['cpu.max', '20000 100000']]);
    expect(files(v2Settings({ cpu: { period: 50000 } }))).toEqual([['cpu.max', 'max 50000']]);
    expect(files(v2Settings({ cpu: { quota: -1, period: 50000 } }))).toEqual([['cpu.max', 'max 50000']]);
    expect(files(v2Settings({ cpu: { shares: 0, quota: 0, period: 0 } }))).toEqual([]);
    expect(() => v2Settings({ cpu: { realtimeRuntime: 950000 } })).toThrow('linux.resources.cpu.realtimeRuntime: not supported on cgroup v2');
    expect(() => v2Settings({ cpu: { realtimePeriod: 1000000 } })).toThrow('linux.resources.cpu.realtimePeriod');
  });

  it('cpuset: cpus and mems, checked to be lists', () => {
    expect(files(v2Settings({ cpu: { cpus: '0-1,3', mems: '0' } }))).toEqual([['cpuset.cpus', '0-1,3'], ['cpuset.mems', '0']]);
    expect(() => v2Settings({ cpu: { cpus: '0\n1' } })).toThrow('linux.resources.cpu.cpus');
  });

  it('io: weight through BFQ or io.weight, per-device weights, one io.max line per device', () => {
    const settings = v2Settings({
      blockIO: {
        weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 100 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }], throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 0 }],
        throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 100 }], throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 50 }],
      },
    });
    expect(settings).toEqual([
      { version: 2, controller: 'io', file: 'io.bfq.weight', value: '500', fallback: { file: 'io.weight', value: 'default 4950' } },
      { version: 2, controller: 'io', file: 'io.bfq.weight', value: '8:0 100', fallback: { file: 'io.weight', value: '8:0 910' } },
      { version: 2, controller: 'io', file: 'io.max', value: '8:0 rbps=1048576 wbps=max wiops=50' },
      { version: 2, controller: 'io', file: 'io.max', value: '8:16 riops=100' },
    ]);
    expect(() => v2Settings({ blockIO: { leafWeight: 10 } })).toThrow('linux.resources.blockIO.leafWeight: not supported on cgroup v2');
    expect(() => v2Settings({ blockIO: { throttleReadBpsDevice: [{ major: -8, minor: 0, rate: 1 }] } }))
      .toThrow('linux.resources.blockIO.throttleReadBpsDevice[0].major: -8 is not a non-negative integer');
  });

  it('pids: the limit, with 0 and -1 meaning no limit', () => {
    expect(files(v2Settings({ pids: { limit: 50 } }))).toEqual([['pids.max', '50']]);
    expect(files(v2Settings({ pids: { limit: -1 } }))).toEqual([['pids.max', 'max']]);
    expect(files(v2Settings({ pids: { limit: 0 } }))).toEqual([['pids.max', 'max']]);
    expect(files(v2Settings({ pids: {} }))).toEqual([]);
  });

  it('hugetlb and rdma, with page sizes and device names checked before they reach a file name', () => {
    expect(files(v2Settings({ hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }], rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, mlx4_0: { hcaObjects: 1 } } })))
      .toEqual([['hugetlb.2MB.max', '4194304'], ['rdma.max', 'mlx5_1 hca_handle=3 hca_object=10000'], ['rdma.max', 'mlx4_0 hca_object=1']]);
    expect(() => v2Settings({ hugepageLimits: [{ pageSize: '../../memory', limit: 1 }] })).toThrow('linux.resources.hugepageLimits[0].pageSize');
    expect(() => v2Settings({ rdma: { 'mlx 5': { hcaHandles: 1 } } })).toThrow('linux.resources.rdma["mlx 5"]');
  });

  it('network is v1 only; unified keys are written as they are, one line at a time, and must be file names', () => {
    expect(() => v2Settings({ network: { classID: 1 } })).toThrow('linux.resources.network: not supported on cgroup v2');
    expect(files(v2Settings({ network: {} }))).toEqual([]);
    expect(v2Settings({ unified: { 'memory.high': '1000000', 'io.max': '8:0 rbps=1\n8:16 wbps=2\n', 'cgroup.max.depth': '3' } })).toEqual([
      { version: 2, controller: 'memory', file: 'memory.high', value: '1000000' },
      { version: 2, controller: 'io', file: 'io.max', value: '8:0 rbps=1' },
      { version: 2, controller: 'io', file: 'io.max', value: '8:16 wbps=2' },
      { version: 2, controller: 'cgroup', file: 'cgroup.max.depth', value: '3' },
    ]);
    for (const key of ['../cgroup.procs', 'a/b.c', '..', 'memory', '.memory', 'memory..high/']) {
      expect(() => v2Settings({ unified: { [key]: '1' } }), key).toThrow(`linux.resources.unified[${JSON.stringify(key)}]: must be a file name`);
    }
  });

  it('takes null (what some JSON encoders write for an absent object) as absent', () => {
    expect(v2Settings(JSON.parse('{"memory":null,"cpu":{"cpus":null,"shares":null},"pids":null,"unified":null}'))).toEqual([]);
    expect(v1Settings(JSON.parse('{"memory":{"limit":null},"blockIO":null,"devices":null}'))).toEqual([]);
  });

  it('device rules are no file on v2 (an eBPF program), but are still checked', () => {
    expect(v2Settings({ devices: [{ allow: false, access: 'rwm' }] })).toEqual([]);
  });
});

describe('v1 settings', () => {
  it('memory: every file, the limit retried after memsw when the kernel refuses it first', () => {
    const settings = v1Settings({
      memory: { limit: 1000, swap: 3000, reservation: 500, kernel: 100, kernelTCP: 50, swappiness: 10, disableOOMKiller: true, useHierarchy: true },
    });
    expect(files(settings)).toEqual([
      ['memory.limit_in_bytes', '1000'], ['memory.memsw.limit_in_bytes', '3000'], ['memory.kmem.limit_in_bytes', '100'],
      ['memory.use_hierarchy', '1'], ['memory.soft_limit_in_bytes', '500'], ['memory.oom_control', '1'],
      ['memory.kmem.tcp.limit_in_bytes', '50'], ['memory.swappiness', '10'],
    ]);
    expect(settings[0].retryAfterNext).toBe(true);
    expect(v1Settings({ memory: { limit: -1 } })).toEqual([{ version: 1, controller: 'memory', file: 'memory.limit_in_bytes', value: '-1', retryAfterNext: false }]);
  });

  it('cpu: shares, period before quota (retried), burst, realtime, idle; cpuset', () => {
    const settings = v1Settings({ cpu: { shares: 512, period: 50000, quota: 20000, burst: 100, realtimePeriod: 1000000, realtimeRuntime: 950000, idle: 0, cpus: '0', mems: '0' } });
    expect(files(settings)).toEqual([
      ['cpu.shares', '512'], ['cpu.cfs_period_us', '50000'], ['cpu.cfs_quota_us', '20000'], ['cpu.cfs_burst_us', '100'],
      ['cpu.rt_period_us', '1000000'], ['cpu.rt_runtime_us', '950000'], ['cpu.idle', '0'], ['cpuset.cpus', '0'], ['cpuset.mems', '0'],
    ]);
    expect(settings[1].retryAfterNext).toBe(true);
    expect(settings.map((s) => s.controller)).toEqual(['cpu', 'cpu', 'cpu', 'cpu', 'cpu', 'cpu', 'cpu', 'cpuset', 'cpuset']);
  });

  it('blkio: weights through the CFQ files or BFQ\'s, throttles one write each', () => {
    const settings = v1Settings({
      blockIO: {
        weight: 500, leafWeight: 300, weightDevice: [{ major: 8, minor: 0, weight: 100, leafWeight: 50 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }], throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 0 }],
      },
    });
    expect(settings).toEqual([
      { version: 1, controller: 'blkio', file: 'blkio.weight', value: '500', fallback: { file: 'blkio.bfq.weight', value: '500' } },
      { version: 1, controller: 'blkio', file: 'blkio.leaf_weight', value: '300' },
      { version: 1, controller: 'blkio', file: 'blkio.weight_device', value: '8:0 100', fallback: { file: 'blkio.bfq.weight_device', value: '8:0 100' } },
      { version: 1, controller: 'blkio', file: 'blkio.leaf_weight_device', value: '8:0 50' },
      { version: 1, controller: 'blkio', file: 'blkio.throttle.read_bps_device', value: '8:0 1048576' },
      { version: 1, controller: 'blkio', file: 'blkio.throttle.write_iops_device', value: '8:16 0' },
    ]);
  });

  it('pids, hugetlb, rdma, network', () => {
    expect(files(v1Settings({
      pids: { limit: 0 }, hugepageLimits: [{ pageSize: '1GB', limit: 1073741824 }], rdma: { mlx5_1: { hcaHandles: 3 } },
      network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
    }))).toEqual([
      ['pids.max', 'max'], ['hugetlb.1GB.limit_in_bytes', '1073741824'], ['rdma.max', 'mlx5_1 hca_handle=3'],
      ['net_cls.classid', '1048577'], ['net_prio.ifpriomap', 'eth0 500'],
    ]);
    expect(() => v1Settings({ network: { priorities: [{ name: 'eth0\n', priority: 1 }] } })).toThrow('linux.resources.network.priorities[0].name');
  });

  it('devices: deny all first (a device no rule names is denied), then each rule in order', () => {
    expect(files(v1Settings({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }, { allow: true, type: 'b', access: 'm' }, { allow: true, type: 'c', major: 5, minor: 2, access: '' }] })))
      .toEqual([['devices.deny', 'a'], ['devices.allow', 'c 1:3 rw'], ['devices.allow', 'b *:* m']]);
    expect(files(v1Settings({ devices: [{ allow: true, type: 'c', major: 1, minor: 3 }] }))).toEqual([['devices.deny', 'a'], ['devices.allow', 'c 1:3 rwm']]);
    expect(files(v1Settings({ devices: [{ allow: true }, { allow: false, type: 'c', major: 10, minor: -1, access: 'mwr' }] })))
      .toEqual([['devices.allow', 'a'], ['devices.deny', 'c 10:* rwm']]);
    expect(() => v1Settings({ devices: [{ allow: true, type: 'u' }] })).toThrow('linux.resources.devices[0].type');
  });

  it('unified needs cgroup v2 (an empty map is nothing to set)', () => {
    expect(() => v1Settings({ unified: { 'memory.high': '1' } })).toThrow('linux.resources.unified: needs cgroup v2');
    expect(v1Settings({ unified: {} })).toEqual([]);
  });
});

describe('planResources', () => {
  const hybrid: CgroupLayout = { v1: new Map([['memory', '/m'], ['devices', '/d'], ['cpu', '/c']]), unified: '/u' };
  const v1only: CgroupLayout = { v1: new Map([['memory', '/m']]), unified: null };
  const v2: CgroupLayout = { v1: new Map(), unified: '/u' };

  it('on hybrid: each controller where v1 mounts it, else in cgroup v2 when offered there', () => {
    const plan = planResources({ memory: { limit: 1000 }, hugepageLimits: [{ pageSize: '2MB', limit: 0 }], devices: [{ allow: false }] }, hybrid, new Set(['hugetlb']));
    expect(plan.settings.map((s) => [s.version, s.file])).toEqual([
      [1, 'devices.deny'], [1, 'memory.limit_in_bytes'], [2, 'hugetlb.2MB.max'],
    ]);
    expect(plan.devices).toEqual({ version: 1, rules: [{ allow: false, type: 'a', major: -1, minor: -1, access: 7 }] });
    expect([...plan.controllers]).toEqual(['hugetlb']);
    // v1 memory is used, so v2's refusal of swappiness does not apply.
    expect(planResources({ memory: { swappiness: 10 } }, hybrid, new Set()).settings[0].file).toBe('memory.swappiness');
  });

  it('on hybrid without a v1 devices controller: the eBPF program on the cgroup2 directory', () => {
    const plan = planResources({ devices: [{ allow: true }] }, { v1: new Map([['memory', '/m']]), unified: '/u' }, new Set());
    expect(plan).toEqual({ settings: [], devices: { version: 2, rules: [{ allow: true, type: 'a', major: -1, minor: -1, access: 7 }] }, controllers: new Set() });
  });

  it('names a controller that is nowhere, unless there is nothing to set', () => {
    expect(() => planResources({ pids: { limit: 5 } }, hybrid, new Set(['hugetlb'])))
      .toThrow('linux.resources.pids: the pids cgroup controller is not mounted (nor pids offered by cgroup v2)');
    expect(() => planResources({ network: { classID: 1 } }, v1only, new Set())).toThrow('linux.resources.network: the net_cls cgroup controller is not mounted');
    expect(planResources({ blockIO: {}, network: {} }, v1only, new Set()).settings).toEqual([]);
    expect(() => planResources({ unified: { 'memory.high': '1' } }, v1only, new Set())).toThrow('linux.resources.unified: needs cgroup v2, and this host has no cgroup2 mount');
  });

  it('on v2: everything in the cgroup2 directory, the controllers to enable, unified keys of offered controllers only', () => {
    const plan = planResources({ memory: { limit: 1000 }, cpu: { shares: 1024, cpus: '0' }, pids: { limit: 10 }, unified: { 'memory.oom.group': '1', 'cgroup.max.depth': '2' } },
      v2, new Set(['cpuset', 'cpu', 'memory', 'pids']));
    expect(plan.settings.every((s) => s.version === 2)).toBe(true);
    expect([...plan.controllers].sort()).toEqual(['cpu', 'cpuset', 'memory', 'pids']);
    expect(() => planResources({ unified: { 'rdma.max': 'x' } }, v2, new Set(['memory'])))
      .toThrow('linux.resources.unified["rdma.max"]: the rdma controller is not available (cgroup v2 offers: memory)');
  });
});

describe('writes to a fake hierarchy', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A cgroup directory whose kernel files exist (empty), as the kernel makes them. */
  function hierarchy(root: string, cgroup: string, kernelFiles: string[]): void {
    fs.mkdirSync(path.join(root, cgroup), { recursive: true });
    // The root delegates its controllers already, so nothing needs enabling.
    for (const file of ['cgroup.controllers', 'cgroup.subtree_control']) fs.writeFileSync(path.join(root, file), 'cpu io memory pids\n');
    for (const file of kernelFiles) fs.writeFileSync(path.join(root, cgroup, file), '');
  }
  const read = (...parts: string[]) => fs.readFileSync(path.join(dir, ...parts), 'utf8');

  it('writes v2 files, falls back from io.bfq.weight to io.weight, creates no file', () => {
    hierarchy(dir, 'c', ['memory.max', 'memory.swap.max', 'cpu.weight', 'cpu.max', 'pids.max', 'io.weight']);
    const cgroup = new Cgroup({ v1: new Map(), unified: dir }, '/c');
    cgroup.apply({ memory: { limit: 1000, swap: 3000 }, cpu: { shares: 1024, quota: 20000, period: 100000 }, pids: { limit: -1 }, blockIO: { weight: 1000 } });
    expect(['memory.max', 'memory.swap.max', 'cpu.weight', 'cpu.max', 'pids.max', 'io.weight'].map((f) => read('c', f)))
      .toEqual(['1000', '2000', '39', '20000 100000', 'max', 'default 10000']);
    expect(fs.existsSync(path.join(dir, 'c', 'io.bfq.weight'))).toBe(false);
    expect(cgroup.procsFiles()).toEqual([path.join(dir, 'c', 'cgroup.procs')]);
    // A file the kernel does not have is ENOENT naming it, and is not made.
    expect(() => cgroup.apply({ cpu: { idle: 1 } })).toThrow(expect.objectContaining({ code: 'ENOENT', path: path.join(dir, 'c', 'cpu.idle') }));
    expect(fs.existsSync(path.join(dir, 'c', 'cpu.idle'))).toBe(false);
    // A controller the root does not offer is named with the file that says so.
    expect(() => cgroup.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }))
      .toThrow(`cannot enable the hugetlb cgroup controller for /c: ${path.join(dir, 'cgroup.controllers')} does not offer it (cpu io memory pids)`);
  });

  it('refuses a memory limit below the current usage when checkBeforeUpdate asks, and writes nothing', () => {
    hierarchy(dir, 'c', ['memory.max', 'memory.current', 'pids.max']);
    fs.writeFileSync(path.join(dir, 'c', 'memory.current'), '5000\n');
    const cgroup = new Cgroup({ v1: new Map(), unified: dir }, '/c');
    expect(() => cgroup.apply({ memory: { limit: 4000, checkBeforeUpdate: true }, pids: { limit: 5 } }))
      .toThrow('linux.resources.memory.limit: 4000 is not above the current usage 5000 (checkBeforeUpdate)');
    expect([read('c', 'memory.max'), read('c', 'pids.max')]).toEqual(['', '']);
    cgroup.apply({ memory: { limit: 4000 } }); // without the check, the kernel decides
    expect(read('c', 'memory.max')).toBe('4000');
    cgroup.apply({ memory: { limit: 6000, checkBeforeUpdate: true } });
    expect(read('c', 'memory.max')).toBe('6000');
  });

  it('on update, completes cpu.max from the period or quota already set', () => {
    hierarchy(dir, 'c', ['cpu.max']);
    fs.writeFileSync(path.join(dir, 'c', 'cpu.max'), '50000 200000\n');
    const cgroup = new Cgroup({ v1: new Map(), unified: dir }, '/c');
    cgroup.apply({ cpu: { quota: 30000 } });
    expect(read('c', 'cpu.max')).toBe('30000 200000');
    cgroup.apply({ cpu: { period: 100000 } });
    expect(read('c', 'cpu.max')).toBe('30000 100000');
  });

  it('writes v1 files, device rules, and refuses a controller that is not mounted', () => {
    const mounts = new Map([['memory', path.join(dir, 'memory')], ['devices', path.join(dir, 'devices')]]);
    hierarchy(mounts.get('memory')!, 'c', ['memory.limit_in_bytes', 'memory.soft_limit_in_bytes']);
    hierarchy(mounts.get('devices')!, 'c', ['devices.allow', 'devices.deny']);
    const cgroup = new Cgroup({ v1: mounts, unified: null }, '/c');
    cgroup.apply({ memory: { limit: 4096, reservation: 1024 }, devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }] });
    expect(read('memory/c/memory.limit_in_bytes')).toBe('4096');
    expect(read('memory/c/memory.soft_limit_in_bytes')).toBe('1024');
    expect(read('devices/c/devices.deny')).toBe('a');
    expect(read('devices/c/devices.allow')).toBe('c 1:3 rwm');
    expect(() => cgroup.apply({ pids: { limit: 5 } })).toThrow('linux.resources.pids: the pids cgroup controller is not mounted');
  });
});
