// The systemd cgroup driver's pure parts, without systemd: cgroupsPath → unit and cgroup, the
// unit's properties, and the limits converted from the cgroup v2 files they are written to.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildLaunchPlan, defaultSpec, validateRecord, validateSpec } from '../../src';
import { v2Settings, type LinuxResources } from '../../src/container/cgroups';
import {
  cpuMask, cpuQuotaProperties, expandSlice, INFINITY, type FileSetting, parseSystemdVersion, requireSystemdHost, resourceProperties, systemdUnitOf,
  unitProperties, type UnitProperty,
} from '../../src/container/systemd';
import { tempDir } from '../helpers/env';

describe('systemd units from linux.cgroupsPath', () => {
  it('defaults to a scope system.slice:runcell:<id>, as runc to system.slice:runc:<id>', () => {
    for (const given of [undefined, '']) {
      expect(systemdUnitOf(given, 'web')).toEqual({ name: 'runcell-web.scope', slice: 'system.slice', cgroupPath: '/system.slice/runcell-web.scope' });
    }
  });

  it('reads podman\'s, kubelet\'s and an empty slice the way runc does', () => {
    expect(systemdUnitOf('machine.slice:libpod:0123abc', 'x')).toEqual(
      { name: 'libpod-0123abc.scope', slice: 'machine.slice', cgroupPath: '/machine.slice/libpod-0123abc.scope' });
    expect(systemdUnitOf('kubepods-besteffort-pod12_34.slice:cri-containerd:c1', 'x')).toEqual({
      name: 'cri-containerd-c1.scope', slice: 'kubepods-besteffort-pod12_34.slice',
      cgroupPath: '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12_34.slice/cri-containerd-c1.scope',
    });
    expect(systemdUnitOf(':runcell:c', 'x').cgroupPath).toBe('/system.slice/runcell-c.scope');
    // runc's rule for an empty prefix: "-name.scope", a valid unit name.
    expect(systemdUnitOf('system.slice::c', 'x').name).toBe('-c.scope');
    expect(systemdUnitOf('-.slice:p:c', 'x').cgroupPath).toBe('/p-c.scope');
  });

  it('makes a slice when the name is one: its cgroup follows its own name, its parent is wanted', () => {
    expect(systemdUnitOf('system.slice:ignored:pod-a.slice', 'x')).toEqual(
      { name: 'pod-a.slice', slice: 'system.slice', cgroupPath: '/pod.slice/pod-a.slice' });
  });

  it('refuses other forms, naming the field and what it takes', () => {
    const refusals: Array<[string, RegExp]> = [
      ['/runcell/x', /"\/runcell\/x" is not of the form "slice:prefix:name" that --systemd-cgroup takes/],
      ['a.slice:b', /not of the form/],
      ['a.slice:b:c:d', /not of the form/],
      ['system.slice:runcell:', /names no unit \(its name part is empty\)/],
      ['system.slice:../..:x', /"..\/..-x.scope" is not a valid systemd unit name/],
      ['system.slice:p:a b', /"p-a b.scope" is not a valid systemd unit name/],
      ['system.slice:p:' + 'x'.repeat(250), /is not a valid systemd unit name/],
      ['system:p:c', /"system" is not a valid slice name/],
      ['a--b.slice:p:c', /"a--b.slice" is not a valid slice name/],
      ['-a.slice:p:c', /not a valid slice name/],
      ['a/b.slice:p:c', /not a valid slice name/],
      ['.slice:p:c', /not a valid slice name/],
      ['system.slice:p:a--b.slice', /"a--b.slice" is not a valid slice name/],
    ];
    for (const [given, message] of refusals) {
      expect(() => systemdUnitOf(given, 'x'), given).toThrow(message);
      expect(() => systemdUnitOf(given, 'x'), given).toThrow(/^config\.json: config\.linux\.cgroupsPath: /);
    }
  });

  it('expands slices by their dashes', () => {
    expect(expandSlice('-.slice')).toBe('/');
    expect(expandSlice('system.slice')).toBe('/system.slice');
    expect(expandSlice('test-a-b.slice')).toBe('/test.slice/test-a.slice/test-a-b.slice');
    for (const bad of ['', 'slice', '.slice', 'a', 'a-.slice', 'a.scope']) expect(() => expandSlice(bad), bad).toThrow(/is not a valid slice name/);
  });
});

describe('unit properties', () => {
  const scope = systemdUnitOf('machine.slice:libpod:c', 'c');
  const names = (properties: UnitProperty[]) => properties.map(([name]) => name);

  it('a scope: in its slice, holding the init, delegated, accounted, without default dependencies', () => {
    expect(unitProperties(scope, 'c', 4242)).toEqual([
      ['Description', 's', 'runcell container c'],
      ['Slice', 's', 'machine.slice'], ['PIDs', 'au', [4242]], ['Delegate', 'b', true],
      ['MemoryAccounting', 'b', true], ['CPUAccounting', 'b', true], ['IOAccounting', 'b', true], ['TasksAccounting', 'b', true],
      ['DefaultDependencies', 'b', false],
    ]);
  });

  it('a slice: wants its parent, holds no process of its own (the init is written into it)', () => {
    const properties = unitProperties(systemdUnitOf('system.slice:p:pod-a.slice', 'c'), 'c', 4242);
    expect(properties).toContainEqual(['Wants', 'as', ['system.slice']]);
    expect(names(properties)).not.toContain('PIDs');
    expect(names(properties)).not.toContain('Slice');
    expect(names(properties)).not.toContain('Delegate');
  });
});

describe('limits as unit properties, from the cgroup v2 files', () => {
  const props = (resources: LinuxResources, version = 252) => resourceProperties(v2Settings(resources), version);

  it('memory, pids, cpu weight and quota, io weight: the values cgroups.ts writes, as systemd types them', () => {
    const resources = {
      memory: { limit: 64 * 1024 * 1024, reservation: 32 * 1024 * 1024 },
      cpu: { shares: 1024, quota: 50_000, period: 100_000 },
      pids: { limit: 50 },
      blockIO: { weight: 500 },
    };
    const settings = v2Settings(resources);
    // The converted weights are cgroups.ts's (runc's formulas): read them from its settings.
    const written = (file: string) => {
      const s = settings.find((x) => x.file === file || (x as FileSetting).fallback?.file === file);
      return s?.file === file ? s.value : (s as FileSetting | undefined)?.fallback?.value;
    };
    expect(Object.fromEntries(props(resources).map(([name, signature, value]) => [name, [signature, value]]))).toEqual({
      MemoryMax: ['t', 67108864n], MemoryLow: ['t', 33554432n],
      CPUWeight: ['t', BigInt(written('cpu.weight')!)],
      CPUQuotaPeriodUSec: ['t', 100_000n], CPUQuotaPerSecUSec: ['t', 500_000n],
      TasksMax: ['t', 50n],
      IOWeight: ['t', BigInt(/\d+$/.exec(written('io.weight')!)![0])],
    });
    expect(written('cpu.weight')).toBe('39');
  });

  it('the BFQ weight is IOWeight through the io.weight it falls back to', () => {
    expect(resourceProperties([{ file: 'io.bfq.weight', value: '500', fallback: { file: 'io.weight', value: 'default 4950' } }], 252))
      .toEqual([['IOWeight', 't', 4950n]]);
  });

  it('"max" and -1 are systemd\'s infinity', () => {
    expect(props({ pids: { limit: -1 } })).toEqual([['TasksMax', 't', INFINITY]]);
    expect(resourceProperties([{ file: 'memory.max', value: 'max' }, { file: 'memory.swap.max', value: '-1' }], 252))
      .toEqual([['MemoryMax', 't', INFINITY], ['MemorySwapMax', 't', INFINITY]]);
    expect(props({ cpu: { quota: -1, period: 50_000 } })).toEqual([['CPUQuotaPeriodUSec', 't', 50_000n], ['CPUQuotaPerSecUSec', 't', INFINITY]]);
  });

  it('rounds a quota up to whole percents of a CPU, as runc does (systemd keeps percents)', () => {
    expect(cpuQuotaProperties(1234n, 100_000n, 252)).toEqual([['CPUQuotaPeriodUSec', 't', 100_000n], ['CPUQuotaPerSecUSec', 't', 20_000n]]);
    expect(cpuQuotaProperties(25_000n, undefined, 252)).toEqual([['CPUQuotaPerSecUSec', 't', 250_000n]]);
    expect(cpuQuotaProperties(150_000n, 100_000n, 252)[1]).toEqual(['CPUQuotaPerSecUSec', 't', 1_500_000n]);
  });

  it('cpusets as bit masks, and only what the systemd at hand knows', () => {
    expect(props({ cpu: { cpus: '0-3,8', mems: '1' } })).toEqual([['AllowedCPUs', 'ay', [0x0f, 0x01]], ['AllowedMemoryNodes', 'ay', [0x02]]]);
    expect(props({ cpu: { cpus: '0-3' } }, 243)).toEqual([]);
    expect(props({ cpu: { quota: 20_000, period: 100_000 } }, 241)).toEqual([['CPUQuotaPerSecUSec', 't', 200_000n]]);
  });

  it('files systemd has no property for are left to cgroupfs', () => {
    expect(resourceProperties([{ file: 'memory.oom.group', value: '1' }, { file: 'cpu.idle', value: '1' },
      { file: 'io.weight', value: '8:0 300' }, { file: 'hugetlb.2MB.max', value: '0' }], 252)).toEqual([]);
  });

  it('refuses a value systemd cannot take, naming the file', () => {
    expect(() => resourceProperties([{ file: 'memory.max', value: '12k' }], 252)).toThrow('cannot pass memory.max="12k" to systemd: not a byte or task count');
    expect(() => resourceProperties([{ file: 'cpu.max', value: 'lots' }], 252)).toThrow(/cpu\.max="lots".*not "quota \[period\]"/);
    expect(() => resourceProperties([{ file: 'cpuset.cpus', value: '3-1' }], 252)).toThrow('cannot pass cpuset.cpus="3-1" to systemd: "3-1" is a range that ends before it starts');
  });

  it('cpu masks: byte i holds CPUs 8i..8i+7, and a hostile range is bounded', () => {
    expect(cpuMask('0')).toEqual([1]);
    expect(cpuMask('7,9')).toEqual([0x80, 0x02]);
    expect(cpuMask(' 0 - 15 ')).toEqual([0xff, 0xff]);
    expect(() => cpuMask('0-4000000000')).toThrow(/beyond any CPU/);
    for (const bad of ['', 'a', '1-', '-1', '1,,2']) expect(() => cpuMask(bad), bad).toThrow(/not a list of numbers and ranges/);
  });

  it('systemd versions as its Version property has them', () => {
    expect(parseSystemdVersion('252.22-1~deb12u1')).toBe(252);
    expect(parseSystemdVersion('"v245.4-1.fc32"')).toBe(245);
    expect(parseSystemdVersion('239')).toBe(239);
    expect(() => parseSystemdVersion('unknown')).toThrow(/cannot read systemd's version/);
  });
});

describe('the host', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const v2 = { v1: new Map<string, string>(), unified: '/sys/fs/cgroup' };

  it('needs systemd as init (sd_booted: /run/systemd/system is a directory) and pure cgroup v2', () => {
    const runtime = path.join(dir, 'system');
    expect(() => requireSystemdHost(v2, runtime)).toThrow(`--systemd-cgroup: this host does not run systemd (${runtime} does not exist)`);
    fs.writeFileSync(runtime, '');
    expect(() => requireSystemdHost(v2, runtime)).toThrow(/does not run systemd/);
    fs.rmSync(runtime);
    fs.mkdirSync(runtime);
    expect(() => requireSystemdHost(v2, runtime)).not.toThrow();
    const hybrid = { v1: new Map([['memory', '/sys/fs/cgroup/memory'], ['pids', '/sys/fs/cgroup/pids']]), unified: '/sys/fs/cgroup/unified' };
    expect(() => requireSystemdHost(hybrid, runtime)).toThrow(/pure cgroup v2 host only; this one mounts cgroup v1 controllers \(memory, pids\)/);
  });
});

describe('plumbing', () => {
  it('the launch plan has the gofer wait for the cgroup manager after the clone, before the cgroupfs join', () => {
    const bundle = tempDir();
    try {
      fs.mkdirSync(path.join(bundle, 'rootfs'));
      const s = defaultSpec() as any; // eslint-disable-line @typescript-eslint/no-explicit-any
      s.process.terminal = false;
      const files = { exit: '/r/e', exitTmp: '/r/t', gate: '/r/g', ready: '/r/r' };
      const ops = (cgroupManager: boolean) => buildLaunchPlan(validateSpec(s), {
        bundle, files, extraFds: 0, cgroupProcs: ['/sys/fs/cgroup/x/cgroup.procs'], cgroup: { version: 2, directory: '/sys/fs/cgroup/x' }, cgroupManager,
      }).ops.map((o) => o.op);
      expect(ops(false)).not.toContain('g-cgroup-manager');
      const names = ops(true);
      expect(names.indexOf('g-cgroup-manager')).toBe(names.indexOf('g-clone') + 1);
      expect(names.indexOf('g-cgroup')).toBe(names.indexOf('g-cgroup-manager') + 1);
    } finally {
      fs.rmSync(bundle, { recursive: true, force: true });
    }
  });

  it('the record keeps the unit (validated as a string)', () => {
    const record = {
      version: 1, id: 'c', sandboxId: 'c', status: 'created', bundle: '/b', rootfs: '/b/rootfs', created: 'now', owner: 'root',
      annotations: {}, init: null, gofer: null, cgroupPath: '/system.slice/runcell-c.scope', systemdUnit: 'runcell-c.scope',
    };
    const id = { containerId: 'c', sandboxId: 'c' };
    expect(validateRecord(record, id, '/r/c.state').systemdUnit).toBe('runcell-c.scope');
    expect(() => validateRecord({ ...record, systemdUnit: 7 }, id, '/r/c.state')).toThrow(/"systemdUnit" is not a string/);
  });
});
