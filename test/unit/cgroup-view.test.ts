// A cgroup mount of config.mounts shows the container's own cgroup and nothing else, read-only:
// which host directories that is (cgroupViewOf), and the steps that mount them (the plan).
import { describe, expect, it } from 'vitest';
import { buildLaunchPlan, defaultSpec, setLogger, validateSpec, type Spec } from '../../src';
import type { PlanOp } from '../../src/container/launch-plan';
import { Cgroup, parseLayout } from '../../src/container/cgroups';
import { cgroupViewOf, type CgroupView } from '../../src/container/cgroup-view';
import { PLAN_FILES, useScratchBundle } from '../helpers/env';

// This machine's layout: cpu and cpuacct apart, a name=systemd hierarchy, cgroup2 at unified.
const HYBRID = `
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
// A systemd distribution's v1: joint cpu,cpuacct and net_cls,net_prio hierarchies.
const V1 = `
25 21 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
31 25 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid - cgroup cgroup rw,net_cls,net_prio
`;
const V2 = '26 21 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n';

const READ_ONLY_ALL = 0x1 | 0x2 | 0x4 | 0x8; // ro, nosuid, nodev, noexec
const MS_RDONLY = 1;

describe('cgroupViewOf', () => {
  it('pure v2: the container\'s cgroup2 directory', () => {
    expect(cgroupViewOf(new Cgroup(parseLayout(V2), '/runcell/x'))).toEqual({ version: 2, directory: '/sys/fs/cgroup/runcell/x' });
  });

  it('hybrid: each hierarchy by the name of its mount point, unified included, no name=systemd', () => {
    expect(cgroupViewOf(new Cgroup(parseLayout(HYBRID), '/runcell/x'))).toEqual({
      version: 1,
      hierarchies: [
        { name: 'cpu', directory: '/sys/fs/cgroup/cpu/runcell/x' },
        { name: 'cpuacct', directory: '/sys/fs/cgroup/cpuacct/runcell/x' },
        { name: 'memory', directory: '/sys/fs/cgroup/memory/runcell/x' },
        { name: 'pids', directory: '/sys/fs/cgroup/pids/runcell/x' },
        { name: 'unified', directory: '/sys/fs/cgroup/unified/runcell/x' },
      ],
    });
  });

  it('v1: a joint hierarchy once, under its joint name', () => {
    const view = cgroupViewOf(new Cgroup(parseLayout(V1), '/a/b'));
    expect(view).toEqual({
      version: 1,
      hierarchies: [
        { name: 'cpu,cpuacct', directory: '/sys/fs/cgroup/cpu,cpuacct/a/b' },
        { name: 'memory', directory: '/sys/fs/cgroup/memory/a/b' },
        { name: 'net_cls,net_prio', directory: '/sys/fs/cgroup/net_cls,net_prio/a/b' },
      ],
    });
  });

  it('refuses hierarchies it cannot tell apart by name', () => {
    const clash = '32 31 0:29 / /a/memory rw - cgroup cgroup rw,memory\n33 31 0:30 / /b/memory rw - cgroup cgroup rw,pids\n';
    expect(() => cgroupViewOf(new Cgroup(parseLayout(clash), '/x'))).toThrow('"memory" names none or more than one');
  });
});

describe('the plan of a cgroup mount', () => {
  let bundle: string;
  useScratchBundle((b) => (bundle = b));
  const files = PLAN_FILES;
  function planOf(cgroup: CgroupView | undefined, edit: (s: any) => void = () => {}): PlanOp[] { // eslint-disable-line @typescript-eslint/no-explicit-any
    const s = defaultSpec() as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    s.process.terminal = false;
    s.process.args = ['true'];
    edit(s);
    return buildLaunchPlan(validateSpec(s) as Spec, { bundle, files, extraFds: 0, cgroup }).ops;
  }
  const cgroupNs = (s: any) => s.linux.namespaces.push({ type: 'cgroup' }); // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The steps after the mount before it (/sys) up to the masked paths. */
  const cgroupSteps = (ops: PlanOp[]) => {
    const first = ops.findIndex((o) => o.op === 'i-mount' && o.args[1] === '/sys') + 1;
    return ops.slice(first, ops.findIndex((o, i) => i >= first && !/^i-(mkdirs|mount|bind|symlink|setattr|propagate)$/.test(o.op)));
  };
  const v2: CgroupView = { version: 2, directory: '/sys/fs/cgroup/runcell/c' };
  const hybrid = cgroupViewOf(new Cgroup(parseLayout(HYBRID), '/runcell/c'));

  it('pure v2 without a cgroup namespace: the container\'s own directory, bound read-only while detached', () => {
    // bind WHERE SOURCE TARGET RECURSIVE SET CLEAR RSET RCLEAR IDMAP
    const steps = cgroupSteps(planOf(v2));
    expect(steps.map((o) => [o.op, ...o.args])).toEqual([
      ['i-bind', 'host', '/sys/fs/cgroup/runcell/c', '/sys/fs/cgroup', '1', String(READ_ONLY_ALL), String(0x70), String(READ_ONLY_ALL), String(0x70), ''],
    ]);
    expect(steps[0].description).toBe('bind the container\'s cgroup "/sys/fs/cgroup/runcell/c" on "/sys/fs/cgroup"');
  });

  it('pure v2 with a new cgroup namespace: a fresh cgroup2 mount (its root is the container\'s cgroup), read-only', () => {
    const ops = planOf(v2, cgroupNs);
    expect(Number(ops.find((o) => o.op === 'i-unshare')!.args[0]) & 0x02000000).toBe(0x02000000);
    expect(cgroupSteps(ops).map((o) => [o.op, ...o.args])).toEqual([
      ['i-mkdirs', '/sys/fs/cgroup', String(0o755)],
      ['i-mount', 'cgroup', '/sys/fs/cgroup', 'cgroup2', String(MS_RDONLY | 2 | 4 | 8), ''],
      ['i-setattr', '/sys/fs/cgroup', String(READ_ONLY_ALL), String(0x70), '1'],
    ]);
  });

  it('a cgroup namespace joined by path has a root that is not ours: the own directory is bound', () => {
    const steps = cgroupSteps(planOf(v2, (s) => s.linux.namespaces.push({ type: 'cgroup', path: '/proc/1/ns/cgroup' })));
    expect(steps.map((o) => o.op)).toEqual(['i-bind']);
    expect(steps[0].args.slice(0, 3)).toEqual(['host', '/sys/fs/cgroup/runcell/c', '/sys/fs/cgroup']);
  });

  it('v1 and hybrid: a tmpfs with each hierarchy\'s directory bound, links for joint ones, all read-only at the end', () => {
    for (const edit of [() => {}, cgroupNs]) {
      const steps = cgroupSteps(planOf(hybrid, edit));
      expect(steps.map((o) => [o.op, ...o.args.slice(0, 3)])).toEqual([
        ['i-mkdirs', '/sys/fs/cgroup', String(0o755)],
        ['i-mount', 'tmpfs', '/sys/fs/cgroup', 'tmpfs'],
        ...['cpu', 'cpuacct', 'memory', 'pids', 'unified'].map((h) => ['i-bind', 'host', `/sys/fs/cgroup/${h}/runcell/c`, `/sys/fs/cgroup/${h}`]),
        ['i-setattr', '/sys/fs/cgroup', String(READ_ONLY_ALL), String(0x70)],
      ]);
      expect(steps.at(-1)!.args[3]).toBe('1'); // recursive: the tmpfs and every bind on it
      for (const bind of steps.filter((o) => o.op === 'i-bind')) expect(bind.args.slice(3, 9)).toEqual(['1', '15', '112', '15', '112', '']);
    }
    const joint = cgroupSteps(planOf(cgroupViewOf(new Cgroup(parseLayout(V1), '/c'))));
    expect(joint.filter((o) => o.op === 'i-symlink').map((o) => o.args)).toEqual([
      ['cpu,cpuacct', '/sys/fs/cgroup/cpu'], ['cpu,cpuacct', '/sys/fs/cgroup/cpuacct'],
      ['net_cls,net_prio', '/sys/fs/cgroup/net_cls'], ['net_cls,net_prio', '/sys/fs/cgroup/net_prio'],
    ]);
    expect(joint.at(-1)!.op).toBe('i-setattr');
  });

  it('is read-only whatever the options say ("rw" is ignored, with a warning naming the field), for cgroup2 too', () => {
    const warnings: string[] = [];
    setLogger({ debug: () => {}, warn: (m) => warnings.push(m) });
    try {
      const ops = planOf(v2, (s) => {
        s.mounts = s.mounts.filter((m: { type: string }) => m.type !== 'cgroup');
        s.mounts.push({ destination: '/cg', type: 'cgroup2', source: 'cgroup2', options: ['rw', 'exec', 'rprivate', 'noatime'] });
      });
      const bind = ops.find((o) => o.op === 'i-bind' && o.args[2] === '/cg')!;
      expect(Number(bind.args[4]) & READ_ONLY_ALL).toBe(READ_ONLY_ALL);
      expect(Number(bind.args[5]) & READ_ONLY_ALL).toBe(0);
      expect(Number(bind.args[4]) & 0x70).toBe(0x10); // noatime is honoured
      expect(bind.args.slice(9)).toEqual([String((1 << 18) | 16384)]); // rprivate
      expect(warnings).toEqual(['config.json: config.mounts[6].options: "rw", "exec" ignored: the container\'s cgroup is always mounted read-only, nosuid, nodev and noexec']);
      expect(Number(bind.args[6]) & READ_ONLY_ALL).toBe(READ_ONLY_ALL); // on every mount of the tree
    } finally {
      setLogger(null);
    }
  });

  it('refuses what it cannot do, naming the field', () => {
    expect(() => planOf(undefined)).toThrow('config.json: config.mounts[6]: a cgroup mount shows the container\'s own cgroup, and this container has none');
    const withOptions = (options: string[]) => () => planOf(v2, (s) => (s.mounts[6].options = options));
    // A superblock option of cgroup2 would be the host's whole hierarchy's.
    expect(withOptions(['ro', 'nsdelegate'])).toThrow('config.mounts[6].options: "nsdelegate" is not an option of a cgroup mount');
    expect(withOptions(['rbind'])).toThrow('"rbind" is not an option of a cgroup mount');
  });
});
