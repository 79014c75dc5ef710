// Cgroup layouts and settings against fake hierarchies (v2 has no machine here).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cgroup, parseLayout } from '../../src/container/cgroups';
import { tempDir } from '../helpers/env';

const HYBRID = `
25 21 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
`;
const V2 = '26 21 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n';

let dir: string;
beforeEach(() => (dir = tempDir()));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

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
  });

  it('writes v2 files: memory.max, cpu.weight from shares, cpu.max, pids.max, swap as swap alone', () => {
    const cgroup = new Cgroup({ v1: new Map(), unified: dir }, '/c');
    expect(parseLayout(V2)).toEqual({ v1: new Map(), unified: '/sys/fs/cgroup' });
    cgroup.create({
      memory: { limit: 1000, swap: 3000 }, cpu: { shares: 1024, quota: 20000, period: 100000 }, pids: { limit: -1 },
    });
    const read = (f: string) => fs.readFileSync(path.join(dir, 'c', f), 'utf8');
    expect(read('memory.max')).toBe('1000');
    expect(read('memory.swap.max')).toBe('2000');
    expect(read('cpu.weight')).toBe('39');
    expect(read('cpu.max')).toBe('20000 100000');
    expect(read('pids.max')).toBe('max');
    expect(cgroup.procsFiles()).toEqual([path.join(dir, 'c', 'cgroup.procs')]);
  });

  it('writes v1 files, device rules, and refuses a controller that is not mounted', () => {
    const mounts = new Map([['memory', path.join(dir, 'memory')], ['devices', path.join(dir, 'devices')]]);
    const cgroup = new Cgroup({ v1: mounts, unified: null }, '/c');
    cgroup.create({ memory: { limit: 4096, reservation: 1024 }, devices: [{ allow: false, access: 'rwm' }] });
    expect(fs.readFileSync(path.join(dir, 'memory/c/memory.limit_in_bytes'), 'utf8')).toBe('4096');
    expect(fs.readFileSync(path.join(dir, 'memory/c/memory.soft_limit_in_bytes'), 'utf8')).toBe('1024');
    expect(fs.readFileSync(path.join(dir, 'devices/c/devices.deny'), 'utf8')).toBe('a');
    expect(() => cgroup.apply({ pids: { limit: 5 } })).toThrow('cannot set pids.max: the pids cgroup controller is not mounted');
    expect(() => new Cgroup({ v1: mounts, unified: null }, 'relative/../x')).toThrow(/must be absolute/);
  });
});
