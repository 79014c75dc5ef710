// Rootless, without a second user: runc's rule for when runcell is rootless, the default state
// directory, the limits a config asks for, the caller's cgroup view, and what the plan does for
// a caller who is not root (the maps, setgroups, sysfs).
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildLaunchPlan, defaultSpec, validateSpec, type Spec } from '../../src';
import { controllerStop, parseLayout, v2ControllersByField } from '../../src/container/cgroups';
import { delegatedCgroupPath, requireDelegated } from '../../src/container/rootless-cgroup';
import { busUid, ROOTLESS_DEFAULT_SLICE, systemdUnitOf, tellUidDuringHandshake, userBusAddress } from '../../src/container/systemd';
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

describe('the plan of a rootless member of a sandbox', () => {
  let bundle: string;
  useScratchBundle((b) => (bundle = b));
  const member = (edit: (s: any) => void = () => {}) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const s = defaultSpec({ rootless: { uid: process.geteuid!(), gid: process.getegid!() } }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    s.process.terminal = false;
    s.process.args = ['true'];
    delete s.hostname;
    s.linux.namespaces = s.linux.namespaces.filter((ns: { type: string }) => !['ipc', 'uts'].includes(ns.type));
    edit(s);
    return validateSpec(s);
  };
  const sandbox = { pid: 5, ipc: 6, uts: 7, network: 8, user: 9 };
  const plan = (s: Spec) => buildLaunchPlan(s, {
    bundle, files: PLAN_FILES, extraFds: 0, cgroup: { version: 2, directory: '/sys/fs/cgroup/user' }, unprivileged: true, sandbox,
  }).ops;

  it('the gofer joins the sandbox\'s user namespace, then its pid namespace; no new user namespace, no maps; the sandbox\'s namespaces are closed', () => {
    const ops = plan(member());
    const gofer = ops.filter((o) => o.op.startsWith('g-') && !['g-files', 'g-mkfifo'].includes(o.op));
    expect(gofer.map((o) => [o.op, ...o.args])).toEqual([
      ['g-join-user', '/proc/self/fd/9'], ['g-join-pid', '/proc/self/fd/5'], ['g-clone', '0'],
    ]);
    expect(ops.filter((o) => o.op === 'i-setns-fd').map((o) => o.args)).toEqual([['6', String(0x08000000)], ['7', String(0x04000000)], ['8', String(0x40000000)]]);
    expect(ops.find((o) => o.op === 'i-close')?.args).toEqual(['5', '6', '7', '8', '9']);
    // The sandbox's user namespace denies setgroups as a new one would; devices are bound.
    expect(ops.some((o) => o.op === 'u-setgroups')).toBe(false);
    expect(ops.some((o) => o.op === 'i-mknod')).toBe(false);
    expect(ops.some((o) => o.description === 'bind the device "/dev/null"')).toBe(true);
    // The same member made by root: a user namespace of its own, mapped by the gofer.
    const rootOps = buildLaunchPlan(member(), {
      bundle, files: PLAN_FILES, extraFds: 0, cgroup: { version: 2, directory: '/sys/fs/cgroup/user' }, sandbox: { pid: 5, ipc: 6, uts: 7, network: 8 },
    }).ops;
    expect(rootOps.some((o) => o.op === 'g-join-user')).toBe(false);
    expect(rootOps.find((o) => o.op === 'g-clone')?.args).toEqual([String(0x10000000)]);
    expect(rootOps.some((o) => o.op === 'g-uid-map')).toBe(true);
  });

  it('a member\'s user namespace is its sandbox\'s: a spec without one, or naming one by path, is refused by name', () => {
    expect(() => plan(member((s) => { s.linux.namespaces = s.linux.namespaces.filter((ns: { type: string }) => ns.type !== 'user'); })))
      .toThrow('config.json: config.linux.namespaces: a rootless subcontainer joins its sandbox\'s user namespace: it needs a "user" entry without a path');
    expect(() => plan(member((s) => { s.linux.namespaces.find((ns: { type: string }) => ns.type === 'user').path = '/proc/1/ns/user'; })))
      .toThrow('it needs a "user" entry without a path');
  });
});

describe('the plan of runcell run as root of a user namespace (rootless podman\'s runtime)', () => {
  let bundle: string;
  useScratchBundle((b) => (bundle = b));
  // Podman's spec: no user namespace (runcell is in podman's), its network namespace by path,
  // a cgroup namespace, sysfs and a cgroup mount.
  function podmanSpec(): Spec {
    const s = defaultSpec({}) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    s.process.terminal = false;
    s.process.args = ['true'];
    s.linux.namespaces = [{ type: 'pid' }, { type: 'network', path: '/run/user/1500/netns/netns-1' }, { type: 'ipc' }, { type: 'uts' },
      { type: 'mount' }, { type: 'cgroup' }];
    return validateSpec(s);
  }
  const cgroup = { version: 2, directory: '/sys/fs/cgroup/user.slice/libpod-c1.scope' } as const;
  const plan = (inUserNamespace: boolean) =>
    buildLaunchPlan(podmanSpec(), { bundle, files: PLAN_FILES, extraFds: 0, cgroup, inUserNamespace }).ops;

  it('devices are bound, not made; /sys is the host\'s bound, and the cgroup mount on it a bind of the container\'s cgroup', () => {
    const ops = plan(true);
    const devNull = ops.find((o) => o.description.includes('"/dev/null"'));
    expect([devNull?.op, ...(devNull?.args.slice(0, 3) ?? [])]).toEqual(['i-bind', 'host', '/dev/null', '/dev/null']);
    expect(ops.find((o) => o.description.includes('"/sys"'))?.args.slice(0, 3)).toEqual(['host', '/sys', '/sys']);
    // A cgroup2 mount there would be refused (EBUSY: the same filesystem on the root of its own bound mount).
    const cgroupMount = ops.filter((o) => o.description.includes('"/sys/fs/cgroup"'));
    expect(cgroupMount.map((o) => o.op)).toEqual(['i-bind']);
    expect(cgroupMount[0].args.slice(0, 3)).toEqual(['host', cgroup.directory, '/sys/fs/cgroup']);
    // The host's root: made, mounted.
    const rootOps = plan(false);
    expect(rootOps.find((o) => o.description.includes('"/dev/null"'))?.op).toBe('i-mknod');
    const rootCgroup = rootOps.filter((o) => o.description.includes('"/sys/fs/cgroup"'));
    expect(rootCgroup.map((o) => o.op)).toEqual(['i-mkdirs', 'i-mount', 'i-setattr']);
    expect(rootCgroup[1].args[2]).toBe('cgroup2');
  });
});

describe('the cgroup of a rootless container on cgroup v2', () => {
  const self = '0::/user.slice/user-1500.slice/user@1500.service/app.slice/run-u7.scope\n';

  it('next to the caller\'s own cgroup (runc\'s fs2): runcell-<id> by default, a relative path there, an absolute one as given', () => {
    expect(delegatedCgroupPath(undefined, 'c1', self)).toBe('/user.slice/user-1500.slice/user@1500.service/app.slice/runcell-c1');
    expect(delegatedCgroupPath('', 'c1', self)).toBe('/user.slice/user-1500.slice/user@1500.service/app.slice/runcell-c1');
    expect(delegatedCgroupPath('mine/c1', 'c1', self)).toBe('/user.slice/user-1500.slice/user@1500.service/app.slice/mine/c1');
    expect(delegatedCgroupPath('/elsewhere/c1', 'c1', self)).toBe('/elsewhere/c1');
    // A hybrid host's /proc/self/cgroup: the cgroup2 line is the one read.
    expect(delegatedCgroupPath(undefined, 'c1', '3:memory:/x\n0::/a/b\n')).toBe('/a/runcell-c1');
    expect(() => delegatedCgroupPath('../../escape', 'c1', self)).toThrow('config.json: config.linux.cgroupsPath: "../../escape" must not contain ".."');
    expect(() => delegatedCgroupPath(undefined, 'c1', '3:memory:/x\n')).toThrow(/no "0::" line/);
  });

  it('the controllers a config\'s limits need, by field (device rules need none)', () => {
    expect(v2ControllersByField({
      memory: { limit: 1 << 26 }, pids: { limit: 10 }, cpu: { shares: 512, cpus: '0' }, devices: [{ allow: false, access: 'rwm' }],
      unified: { 'io.max': '8:0 rbps=1', 'cgroup.freeze': '0' },
    })).toEqual([
      { field: 'pids', controller: 'pids' }, { field: 'memory', controller: 'memory' }, { field: 'cpu', controller: 'cpu' },
      { field: 'cpu.cpus', controller: 'cpuset' }, { field: 'unified["io.max"]', controller: 'io' },
    ]);
  });

  it('a controller is delegated where every ancestor passes it on or is ours to make pass it on; else the first that stops it', () => {
    // A cgroup2 tree made of plain files, as root: every cgroup.subtree_control is writable here,
    // so the ones that stop a controller are those whose cgroup.controllers lack it.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'runcell-delegation-'));
    try {
      const cgroup = (rel: string, controllers: string, enabled: string) => {
        fs.mkdirSync(path.join(root, rel), { recursive: true });
        fs.writeFileSync(path.join(root, rel, 'cgroup.controllers'), controllers);
        fs.writeFileSync(path.join(root, rel, 'cgroup.subtree_control'), enabled);
      };
      cgroup('.', 'cpuset cpu io memory pids', 'cpu memory pids');
      cgroup('user.slice', 'cpu memory pids', 'memory pids');
      cgroup('user.slice/u', 'memory pids', '');
      expect(controllerStop(root, '/user.slice/u/c', 'memory')).toBeNull(); // enabled above, u's to enable
      expect(controllerStop(root, '/user.slice/u/c', 'cpu')).toBe(path.join(root, 'user.slice/u'));
      expect(controllerStop(root, '/user.slice/u/c', 'cpuset')).toBe(path.join(root, 'user.slice'));
      // A slice not made yet (systemd makes it with the unit): its parent's word counts.
      expect(controllerStop(root, '/user.slice/u/new.slice/c.scope', 'pids')).toBeNull();
      expect(() => requireDelegated({ memory: { limit: 1 << 26 }, cpu: { cpus: '0' } }, root, '/user.slice/u/c'))
        .toThrow(`config.linux.resources.cpu.cpus: the cpuset cgroup controller is not delegated to uid ${process.geteuid!()}: ` +
          `${path.join(root, 'user.slice')} does not pass it on (cgroup.subtree_control: memory pids; cgroup.controllers: cpu memory pids)`);
      expect(() => requireDelegated({ memory: { limit: 1 << 26 } }, root, '/user.slice/u/c')).not.toThrow();
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the user bus and the user\'s systemd', () => {
  it('the user bus: DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus when it exists, else none', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runcell-xdg-'));
    try {
      expect(userBusAddress({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/x/bus', XDG_RUNTIME_DIR: dir })).toBe('unix:path=/x/bus');
      expect(userBusAddress({ XDG_RUNTIME_DIR: dir })).toBeUndefined();
      fs.writeFileSync(path.join(dir, 'bus'), '');
      expect(userBusAddress({ XDG_RUNTIME_DIR: dir })).toBe(`unix:path=${dir}/bus`);
      expect(userBusAddress({ XDG_RUNTIME_DIR: 'relative' })).toBeUndefined();
      expect(userBusAddress({})).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the uid told to the bus is the one the bus sees: ours through uid_map (root of rootless podman\'s namespace is the user)', () => {
    expect(busUid(0, '         0       1500          1\n         1     100000      65536\n')).toBe(1500);
    expect(busUid(1000, '         0       1500          1\n         1     100000      65536\n')).toBe(100999);
    expect(busUid(1500, '         0          0 4294967295\n')).toBe(1500);
    expect(busUid(7, '')).toBe(7);
  });

  it('that uid is what process.getuid answers inside the socket\'s connect event only, where dbus-next\'s handshake reads it', () => {
    const stream = new EventEmitter();
    const seen: number[] = [];
    // dbus-next's handshake listener is registered when the bus is made, before ours.
    for (const event of ['connect', 'connected']) stream.once(event, () => seen.push(process.getuid!()));
    const own = process.getuid!();
    tellUidDuringHandshake({ _connection: { stream } }, own + 4242);
    expect(process.getuid!()).toBe(own);
    stream.emit('connect');
    expect(seen).toEqual([own + 4242]);
    expect(process.getuid!()).toBe(own);
    stream.emit('connected');
    expect(seen).toEqual([own + 4242, own + 4242]);
    expect(process.getuid!()).toBe(own);
    expect(() => tellUidDuringHandshake({}, 1)).toThrow(/no socket/);
  });

  it('a rootless unit is in the user\'s instance\'s user.slice unless the path names a slice', () => {
    expect(systemdUnitOf(undefined, 'c1', ROOTLESS_DEFAULT_SLICE)).toEqual({ name: 'runcell-c1.scope', slice: 'user.slice', cgroupPath: '/user.slice/runcell-c1.scope' });
    expect(systemdUnitOf(':libpod:c1', 'c1', ROOTLESS_DEFAULT_SLICE).slice).toBe('user.slice');
    expect(systemdUnitOf('app.slice:libpod:c1', 'c1', ROOTLESS_DEFAULT_SLICE).cgroupPath).toBe('/app.slice/libpod-c1.scope');
  });
});
