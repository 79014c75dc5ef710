// The harness itself: the probe's output, the normalisation and the comparison. A harness
// that found no difference because it compared nothing would pass the matrix for any runcell;
// these show that it tells apart what differs and only that.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compareReports, type ProbeMount, type ProbeReport } from './compare';
import { withoutExpectedDifferences } from './expected-differences';
import { PROBE, runEntry, whyNoConformance } from './harness';
import { KNOWN_FAILING_ON_MAIN } from './known-failing-on-main';
import { MATRIX } from './matrix';

const A = { dir: '/tmp/a/reference', containerId: 'cf1n0r' };
const B = { dir: '/tmp/b/checked', containerId: 'cf1n0c' };

function mount(id: number, parent: number, point: string, extra: Partial<ProbeMount> = {}): ProbeMount {
  return { id, parent, dev: `0:${id + 100}`, root: '/', mountPoint: point, options: 'rw,relatime', propagation: [], fsType: 'tmpfs', source: 'tmpfs', superOptions: 'rw', ...extra };
}

function report(mounts: ProbeMount[], rest: Record<string, unknown> = {}): ProbeReport {
  return { probe: 1, mounts, env: ['PATH=/bin', 'HOME=/'], cwd: '/', ...rest };
}

// The same container seen twice: other mount ids, anonymous devices and peer group numbers,
// and its own directory and id in the paths.
const first = report([
  mount(50, 10, '/', { dev: '254:0', root: '/tmp/a/reference/bundle/rootfs', fsType: 'ext4', source: '/dev/vda' }),
  mount(51, 50, '/proc', { fsType: 'proc', source: 'proc' }),
  mount(52, 50, '/data', { propagation: ['shared:7'] }),
  mount(53, 52, '/data/sub', { propagation: ['shared:7', 'master:3'], dev: '0:160' }),
  mount(54, 50, '/copy', { dev: '0:160', root: '/cf1n0r' }),
]);
const second = report([
  mount(80, 20, '/', { dev: '254:0', root: '/tmp/b/checked/bundle/rootfs', fsType: 'ext4', source: '/dev/vda' }),
  mount(81, 80, '/proc', { fsType: 'proc', source: 'proc', dev: '0:301' }),
  mount(82, 80, '/data', { propagation: ['shared:12'], dev: '0:302' }),
  mount(83, 82, '/data/sub', { propagation: ['shared:12', 'master:9'], dev: '0:303' }),
  mount(84, 80, '/copy', { dev: '0:303', root: '/cf1n0c' }),
]);

describe('comparing probe reports', () => {
  it('finds no difference in what legitimately changes from run to run', () => {
    expect(compareReports(first, second, A, B)).toEqual([]);
  });

  it('names a changed field with both values', () => {
    const changed = structuredClone(second);
    (changed.mounts as ProbeMount[])[2].options = 'ro,relatime';
    expect(compareReports(first, changed, A, B)).toEqual([{ field: 'mounts[/data#0].options', runc: 'rw,relatime', runcell: 'ro,relatime' }]);
  });

  it('tells a mount that joined another peer group, or another superblock', () => {
    const regrouped = structuredClone(second);
    (regrouped.mounts as ProbeMount[])[3].propagation = ['shared:13', 'master:9'];
    (regrouped.mounts as ProbeMount[])[4].dev = '0:399';
    expect(compareReports(first, regrouped, A, B).map((d) => [d.field, d.runc, d.runcell])).toEqual([
      ['mounts[/data/sub#0].propagation', 'shared:/data#0 master:external#0', 'shared:/data/sub#0 master:external#0'],
      ['mounts[/copy#0].dev', 'anon:/data/sub#0', 'anon:/copy#0'],
    ]);
  });

  it('reports a reordering once, naming the mount that moved', () => {
    const reordered = structuredClone(second);
    const mounts = reordered.mounts as ProbeMount[];
    mounts.push(mounts.splice(1, 1)[0]); // /proc last, as runcell mounts it today
    const differences = compareReports(first, reordered, A, B);
    expect(differences).toHaveLength(1);
    expect(differences[0]).toMatchObject({ field: 'mounts.order', runc: '/#0 /proc#0 /data#0 /data/sub#0 /copy#0', runcell: '/#0 /data#0 /data/sub#0 /copy#0 /proc#0' });
    expect(differences[0].note).toBe('out of runc\'s order in runcell: /proc#0');
  });

  it('reports a mount, a variable or a device on one side as one difference', () => {
    const fewer = report((second.mounts as ProbeMount[]).slice(0, 4), {
      env: ['PATH=/bin'],
      dev: [{ name: 'null', type: 'c', rdev: '1:3' }],
    });
    const withDev = { ...first, dev: [{ name: 'null', type: 'c', rdev: '1:3' }, { name: 'core', type: 'l', target: '/proc/kcore' }] };
    expect(compareReports(withDev, fewer, A, B).map((d) => d.field)).toEqual(['mounts.order', 'mounts[/copy#0]', 'env[HOME]', 'dev[core]']);
  });

  it('compares errors as values', () => {
    const failing = { ...second, cwd: { error: 'ENOENT' } };
    expect(compareReports(first, failing, A, B)).toEqual([{ field: 'cwd', runc: '"/"', runcell: 'error: ENOENT' }]);
  });
});

describe('expected differences', () => {
  it('take out the covered procfs of a user namespace, and nothing else', () => {
    const stacked = report([
      mount(80, 20, '/', { dev: '254:0', fsType: 'ext4', source: '/dev/vda' }),
      mount(81, 80, '/proc', { fsType: 'proc', source: 'proc', options: 'rw,nosuid,nodev,noexec,relatime' }),
      mount(90, 81, '/proc', { fsType: 'proc', source: 'proc' }),
      mount(91, 90, '/proc/sys', { fsType: 'proc', source: 'proc', options: 'ro,relatime' }),
    ]);
    const { report: adjusted, applied } = withoutExpectedDifferences(stacked);
    expect(applied).toEqual(['a procfs under /proc in a user namespace']);
    expect((adjusted.mounts as ProbeMount[]).map((m) => [m.id, m.parent])).toEqual([[80, 20], [90, 80], [91, 90]]);
    expect(withoutExpectedDifferences(second)).toEqual({ report: second, applied: [] });
  });
});

describe('the matrix', () => {
  it('has one entry per name, and every known failure names one of them', () => {
    const names = MATRIX.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect(Object.keys(KNOWN_FAILING_ON_MAIN).filter((name) => !names.includes(name))).toEqual([]);
  });

  it('says of each runc bug what it takes out of the comparison and what runcell must show instead', () => {
    for (const entry of MATRIX.filter((e) => e.runcBug !== undefined)) {
      const bug = entry.runcBug!;
      expect(bug.reason, entry.name).toMatch(/#\d+/); // names runc's issue or fix
      expect(bug.explains !== undefined || bug.runcFails !== undefined, entry.name).toBe(true);
      // Where runc fails, nothing is compared: runcell's outcome must be checked on its own.
      if (bug.runcFails !== undefined) expect(bug.check, entry.name).toBeDefined();
      expect(entry.runcFails, `${entry.name}: runc's failure through its bug is runcBug.runcFails`).toBeUndefined();
    }
  });
});

describe('the probe', () => {
  it('prints one JSON object, and what it cannot read as an error, not a crash', () => {
    const out = execFileSync(PROBE, ['masked=/does/not/exist', 'readonly=', 'path=/', 'sysctl=no.such.key'], { encoding: 'utf8' });
    const seen = JSON.parse(out);
    expect(seen.probe).toBe(1);
    expect(Array.isArray(seen.mounts)).toBe(true);
    expect(seen.mounts.some((m: ProbeMount) => m.mountPoint === '/')).toBe(true);
    expect(seen.masked['/does/not/exist']).toEqual({ lstat: { error: 'ENOENT' } });
    expect(seen.readonly).toEqual({});
    expect(seen.paths['/'].lstat.type).toBe('d');
    expect(seen.sysctls['no.such.key']).toEqual({ error: 'ENOENT' });
    expect(seen.identity.pid).toBeGreaterThan(0);
    expect(Object.keys(seen.rlimits)).toHaveLength(16);
    expect(seen.status.CapEff).toMatch(/^[0-9a-f]{16}$/);
  });

  it('refuses an argument it does not know', () => {
    expect(() => execFileSync(PROBE, ['bogus'], { stdio: 'pipe' })).toThrow(/unknown argument "bogus"/);
  });
});

const skip = whyNoConformance();
describe.skipIf(skip !== null)(`runc against itself${skip ? ` (skipped: ${skip})` : ''}`, () => {
  // Entries with the most run-to-run noise: ids, anonymous devices, peer groups, user namespaces.
  const noisy = ['default config (runc spec)', 'mount option rshared (rbind of a shared host mount)', 'linux.namespaces: a user namespace with mappings'];
  for (const name of noisy) {
    it(`${name}: no difference between two runc runs`, async () => {
      const entry = MATRIX.find((e) => e.name === name);
      expect(entry, name).toBeDefined();
      const result = await runEntry(entry!, 'runc');
      expect(result.runc.kind).toBe('ran');
      expect(result.differences).toEqual([]);
    });
  }
});
