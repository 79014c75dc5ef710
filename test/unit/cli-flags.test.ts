// runc's flags turned into what the library acts on, without root: update's limits (runc's value
// formats), exec's sub-cgroups (runc 1.1's rules) and its process adjustments.
import { describe, expect, it } from 'vitest';
import { parseMemorySize, resourcesFromFlags } from '../../src/container/resource-flags';
import { Cgroup } from '../../src/container/cgroups';
import { execCgroupProcs, execProcess } from '../../src/container/exec';
import { defaultSpec } from '../../src';

describe('update flags', () => {
  it('reads sizes as runc does (docker/go-units RAMInBytes: binary units, optional i and b, -1 unlimited)', () => {
    const cases: Array<[string, number]> = [
      ['100', 100], ['64k', 65536], ['64K', 65536], ['64m', 64 * 1024 ** 2], ['64MiB', 64 * 1024 ** 2], ['64mb', 64 * 1024 ** 2],
      ['1g', 1024 ** 3], ['1.5g', 1.5 * 1024 ** 3], ['2 GB', 2 * 1024 ** 3], ['1t', 1024 ** 4], ['-1', -1],
    ];
    for (const [text, bytes] of cases) expect(parseMemorySize('memory', text), text).toBe(bytes);
    for (const bad of ['', 'm', '12x', '-2', '1e9', '0x10', '64 m b', 'lots']) {
      expect(() => parseMemorySize('memory', bad), bad).toThrow(`--memory: invalid size "${bad}"`);
    }
  });

  it('sets only what the flags give, and what runc leaves unchanged stays out', () => {
    expect(resourcesFromFlags({})).toEqual({});
    expect(resourcesFromFlags({ memory: '64m', memorySwap: '-1', cpuShare: '512', cpuQuota: '-1', cpusetCpus: '0-1', pidsLimit: '20', blkioWeight: '300' })).toEqual({
      memory: { limit: 64 * 1024 ** 2, swap: -1 }, cpu: { shares: 512, quota: -1, cpus: '0-1' }, pids: { limit: 20 }, blockIO: { weight: 300 },
    });
    // runc's integer flags default to 0, which changes nothing; an empty cpuset neither.
    expect(resourcesFromFlags({ pidsLimit: '0', blkioWeight: '0', cpusetCpus: '', cpusetMems: '' })).toEqual({});
    expect(resourcesFromFlags({ kernelMemory: '1g', kernelMemoryTcp: '64m', cpuRtPeriod: '1000000', cpuRtRuntime: '-1', cpuPeriod: '100000', cpuBurst: '0', cpuIdle: '1', memoryReservation: '32m' }))
      .toEqual({
        memory: { kernel: 1024 ** 3, kernelTCP: 64 * 1024 ** 2, reservation: 32 * 1024 ** 2 },
        cpu: { realtimePeriod: 1000000, realtimeRuntime: -1, period: 100000, burst: 0, idle: 1 },
      });
  });

  it('refuses what runc refuses, naming the flag', () => {
    expect(() => resourcesFromFlags({ cpuShare: '-5' })).toThrow('--cpu-share: "-5" is not a non-negative integer');
    expect(() => resourcesFromFlags({ cpuPeriod: '1.5' })).toThrow('--cpu-period');
    expect(() => resourcesFromFlags({ cpuQuota: 'lots' })).toThrow('--cpu-quota: "lots" is not an integer');
    expect(() => resourcesFromFlags({ pidsLimit: 'ten' })).toThrow('--pids-limit');
    expect(() => resourcesFromFlags({ memorySwap: '1q' })).toThrow('--memory-swap: invalid size "1q"');
    expect(() => resourcesFromFlags({ cpuShare: '99999999999999999999' })).toThrow('--cpu-share: "99999999999999999999" is out of range');
    // runc 1.1 has these; without resctrl support they are refused, not ignored.
    expect(() => resourcesFromFlags({ l3CacheSchema: 'L3:0=ff' })).toThrow('--l3-cache-schema: Intel RDT is not supported by runcell');
    expect(() => resourcesFromFlags({ memBwSchema: 'MB:0=50' })).toThrow('--mem-bw-schema: Intel RDT is not supported by runcell');
  });
});

describe('exec --cgroup', () => {
  // A hybrid host: cpu and cpuacct mounted together, a cgroup2 mount beside.
  const hybrid = new Cgroup({
    v1: new Map([['cpu', '/cg/cpu,cpuacct'], ['cpuacct', '/cg/cpu,cpuacct'], ['memory', '/cg/memory'], ['pids', '/cg/pids']]),
    unified: '/cg/unified',
  }, '/runcell/c');
  const v2 = new Cgroup({ v1: new Map(), unified: '/cg' }, '/runcell/c');

  it('joins the container\'s cgroup without it, a sub-cgroup of every hierarchy with a path', () => {
    expect(execCgroupProcs(hybrid, [])).toEqual(hybrid.procsFiles());
    expect(execCgroupProcs(hybrid, ['sub/x'])).toEqual([
      '/cg/cpu,cpuacct/runcell/c/sub/x/cgroup.procs', '/cg/memory/runcell/c/sub/x/cgroup.procs', '/cg/pids/runcell/c/sub/x/cgroup.procs',
      '/cg/unified/runcell/c/sub/x/cgroup.procs',
    ]);
    expect(execCgroupProcs(hybrid, ['/'])).toEqual(hybrid.procsFiles());
    expect(execCgroupProcs(v2, ['sub'])).toEqual(['/cg/runcell/c/sub/cgroup.procs']);
  });

  it('per v1 controller, the others staying in the container\'s cgroup (a shared hierarchy once)', () => {
    expect(execCgroupProcs(hybrid, ['memory:m', 'cpu,pids:p'])).toEqual([
      '/cg/cpu,cpuacct/runcell/c/p/cgroup.procs', '/cg/memory/runcell/c/m/cgroup.procs', '/cg/pids/runcell/c/p/cgroup.procs',
      '/cg/unified/runcell/c/cgroup.procs',
    ]);
  });

  it('refuses a path outside the container\'s cgroup, an unknown controller, and runc\'s malformed forms', () => {
    expect(() => execCgroupProcs(hybrid, ['..'])).toThrow('--cgroup: .. is not a sub cgroup path');
    expect(() => execCgroupProcs(hybrid, ['memory:../../x'])).toThrow('is not a sub cgroup path');
    // A sibling whose name starts with the container's (runc's string-prefix check passes it).
    expect(() => execCgroupProcs(hybrid, ['../c2'])).toThrow('is not a sub cgroup path');
    expect(() => execCgroupProcs(hybrid, ['whaaat:/'])).toThrow('--cgroup: unknown controller "whaaat"');
    expect(() => execCgroupProcs(v2, ['memory:sub'])).toThrow('--cgroup: unknown controller "memory"');
    expect(() => execCgroupProcs(hybrid, ['a', 'b'])).toThrow('missing <controller>: prefix');
    expect(() => execCgroupProcs(hybrid, ['a:b:c'])).toThrow('--cgroup: invalid argument "a:b:c"');
  });
});

describe('exec process flags', () => {
  const base = () => (defaultSpec() as any).process; // eslint-disable-line @typescript-eslint/no-explicit-any
  it('adds supplementary groups after the process\'s own, and sets the security labels', () => {
    const proc = execProcess({ ...base(), user: { uid: 0, gid: 0, additionalGids: [4] } }, {
      args: ['id'], additionalGids: [10, 20], apparmorProfile: 'runcell-test', selinuxLabel: 'system_u:system_r:container_t:s0',
    }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(proc.user.additionalGids).toEqual([4, 10, 20]);
    expect(proc.apparmorProfile).toBe('runcell-test');
    expect(proc.selinuxLabel).toBe('system_u:system_r:container_t:s0');
    expect(() => execProcess(base(), { args: ['id'], additionalGids: [-1] })).toThrow('--additional-gids: -1 is not a group id');
  });

  it('gives a terminal as runc does: from the container\'s process only with --tty; a --process has its own say', () => {
    const withTerminal = { ...base(), terminal: true }; // the container's process has one
    expect(execProcess(withTerminal, { args: ['sh'] }).terminal).toBe(false);
    expect(execProcess(withTerminal, { args: ['sh'], tty: true }).terminal).toBe(true);
    // execContainer passes a --process as the base too (its gaps filled from the container's).
    const given = (terminal: boolean) => ({ ...base(), args: ['sh'], terminal });
    expect(execProcess(given(true), { process: given(true) }).terminal).toBe(true);
    expect(execProcess(given(false), { process: given(false), tty: true }).terminal).toBe(true);
    expect(execProcess(given(false), { process: given(false) }).terminal).toBe(false);
  });
});
