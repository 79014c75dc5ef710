// Rootless, without a second user: runc's rule for when runcell is rootless, the default state
// directory, the limits a config asks for, the caller's cgroup view, and what the plan does for
// a caller who is not root (the maps, setgroups, sysfs).
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildLaunchPlan, defaultSpec, validateSpec, type Spec } from '../../src';
import { parseLayout } from '../../src/container/cgroups';
import { callerCgroupView } from '../../src/container/cgroup-view';
import { defaultRootDir, isRootless, requestedLimits, runningInUserNamespace } from '../../src/container/rootless';
import { PLAN_FILES, useScratchBundle } from '../helpers/env';

const HYBRID = `
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const V2 = '26 21 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n';

describe('rootless rules', () => {
  it('--rootless true and false are taken as given; auto follows the euid and the user namespace', () => {
    expect(isRootless('true')).toBe(true);
    expect(isRootless('false')).toBe(false);
    const expected = process.geteuid!() !== 0 || fs.readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/).join(' ') !== '0 0 4294967295';
    expect(isRootless('auto')).toBe(expected);
    expect(runningInUserNamespace()).toBe(fs.readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/).join(' ') !== '0 0 4294967295');
  });

  it('the default root: /run/runcell for the host\'s root, whatever XDG_RUNTIME_DIR says', (context) => {
    if (process.geteuid!() !== 0 || runningInUserNamespace()) context.skip('needs the host\'s root');
    expect(defaultRootDir({ XDG_RUNTIME_DIR: '/run/user/0' })).toBe('/run/runcell');
    expect(defaultRootDir({})).toBe('/run/runcell');
  });

  it('the limits of linux.resources, by field; device rules and unset values are none', () => {
    expect(requestedLimits(undefined)).toEqual([]);
    expect(requestedLimits({ devices: [{ allow: false, access: 'rwm' }] })).toEqual([]);
    expect(requestedLimits({ memory: { limit: 0, disableOOMKiller: false }, cpu: { cpus: '' }, hugepageLimits: [] })).toEqual([]);
    expect(requestedLimits({ memory: { limit: 1 << 26 }, pids: { limit: 10 }, unified: { 'memory.high': '1M' } }))
      .toEqual(['linux.resources.memory.limit', 'linux.resources.pids.limit', 'linux.resources.unified.memory.high']);
  });

  it('without a cgroup of its own, a cgroup mount shows the caller\'s: per hierarchy, named=systemd left out', () => {
    const self = '12:memory:/user/1\n11:cpu:/user/1\n1:name=systemd:/session\n0::/user/1\n';
    expect(callerCgroupView(parseLayout(HYBRID), self)).toEqual({
      version: 1,
      hierarchies: [
        { name: 'memory', directory: '/sys/fs/cgroup/memory/user/1' },
        { name: 'cpu', directory: '/sys/fs/cgroup/cpu/user/1' },
        { name: 'unified', directory: '/sys/fs/cgroup/unified/user/1' },
      ],
    });
    expect(callerCgroupView(parseLayout(V2), '0::/user.slice/user-1000.slice/session-1.scope\n'))
      .toEqual({ version: 2, directory: '/sys/fs/cgroup/user.slice/user-1000.slice/session-1.scope' });
    expect(() => callerCgroupView(parseLayout(V2), '0::/a/../b\n')).toThrow(/not a plain path/);
  });
});

describe('the plan of an unprivileged caller', () => {
  let bundle: string;
  useScratchBundle((b) => (bundle = b));
  const files = PLAN_FILES;
  // The rootless spec of this process's own ids: the maps it may write itself.
  function spec(edit: (s: any) => void = () => {}): Spec { // eslint-disable-line @typescript-eslint/no-explicit-any
    const s = defaultSpec({ rootless: { uid: process.geteuid!(), gid: process.getegid!() } }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    s.process.terminal = false;
    s.process.args = ['true'];
    edit(s);
    return validateSpec(s);
  }
  const cgroup = { version: 2, directory: '/sys/fs/cgroup/user' } as const;
  const plan = (s: Spec, helpers?: { uid?: string; gid?: string }) =>
    buildLaunchPlan(s, { bundle, files, extraFds: 0, cgroup, unprivileged: true, idmapHelpers: helpers }).ops;

  it('its own ids alone: written by the gofer, setgroups "deny" right before the gid map; no setgroups in the process', () => {
    const ops = plan(spec());
    const maps = ops.filter((o) => ['g-uid-map', 'g-setgroups', 'g-gid-map', 'g-idmap-helper'].includes(o.op));
    expect(maps.map((o) => [o.op, ...o.args])).toEqual([
      ['g-uid-map', `0 ${process.geteuid!()} 1\n`], ['g-setgroups', 'deny'], ['g-gid-map', `0 ${process.getegid!()} 1\n`],
    ]);
    expect(ops.some((o) => o.op === 'u-setgroups')).toBe(false);
    // Root's plan of the same spec: no deny, setgroups in the process.
    const rootOps = buildLaunchPlan(spec(), { bundle, files, extraFds: 0, cgroup }).ops;
    expect(rootOps.some((o) => o.op === 'g-setgroups')).toBe(false);
    expect(rootOps.some((o) => o.op === 'u-setgroups')).toBe(true);
  });

  it('ranges beyond its own ids: newuidmap and newgidmap, with the mappings as their arguments; an error naming them without', () => {
    const ranges = spec((s) => {
      s.linux.uidMappings.push({ containerID: 1, hostID: 100000, size: 65536 });
      s.linux.gidMappings.push({ containerID: 1, hostID: 200000, size: 65536 });
    });
    const helpers = plan(ranges, { uid: '/usr/bin/newuidmap', gid: '/usr/bin/newgidmap' }).filter((o) => o.op.startsWith('g-') && o.op.includes('map') || o.op === 'g-setgroups');
    expect(helpers.map((o) => [o.op, ...o.args])).toEqual([
      ['g-idmap-helper', '/usr/bin/newuidmap', '0', String(process.geteuid!()), '1', '1', '100000', '65536'],
      ['g-idmap-helper', '/usr/bin/newgidmap', '0', String(process.getegid!()), '1', '1', '200000', '65536'],
    ]);
    expect(() => plan(ranges)).toThrow(`config.json: config.linux.uidMappings: "0 ${process.geteuid!()} 1", "1 100000 65536" maps more than this user's own uid`);
  });

  it('supplementary groups are refused by name; sysfs is the host\'s /sys bound read-only without a network namespace', () => {
    expect(() => plan(spec((s) => { s.process.user.additionalGids = [5]; }))).toThrow('config.json: config.process.user.additionalGids: supplementary groups cannot be set rootless');
    const sysfs = plan(spec((s) => {
      s.mounts = s.mounts.map((m: { destination: string }) => (m.destination === '/sys'
        ? { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] } : m));
    })).find((o) => o.description.includes('"/sys"'));
    expect(sysfs?.op).toBe('i-bind');
    expect(sysfs?.args.slice(0, 4)).toEqual(['host', '/sys', '/sys', '1']);
    // With a network namespace of its own, a sysfs can be mounted.
    const own = plan(spec((s) => {
      s.linux.namespaces.push({ type: 'network' });
      s.mounts = s.mounts.map((m: { destination: string }) => (m.destination === '/sys' ? { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['ro'] } : m));
    })).find((o) => o.description === 'mount "sysfs" on "/sys"');
    expect(own?.op).toBe('i-mount');
  });
});
