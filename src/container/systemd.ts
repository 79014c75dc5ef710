// The systemd cgroup driver (`--systemd-cgroup`, runc's flag; podman passes it on a systemd host,
// containerd with `SystemdCgroup = true`). The container's cgroup is a transient unit that systemd
// makes and owns: a scope holding the container's init, with `Delegate=yes` so that the cgroup
// below it is ours to write. systemd is asked over its D-Bus API on the system bus, as runc's
// libcontainer/cgroups/systemd does; rootless, the user's own systemd instance on the user's bus
// (the scope is then in the user's user@UID.service, whose controllers systemd delegates). The limits systemd knows are passed as unit properties
// (systemd re-applies its own view of a unit's cgroup, on `daemon-reload` for one, and would
// otherwise undo what we wrote); the rest is written into the delegated cgroup by the cgroupfs
// code (cgroups.ts), which also writes the known ones again and reports the kernel's refusals.
//
// The D-Bus client (dbus-next) is loaded only here, when a container uses the driver: the other
// commands never pay for it.
import * as fs from 'node:fs';
import type * as DBus from 'dbus-next';
import { log } from '../log';
import { SpecError } from '../oci/spec';
import { v2Settings, type Cgroup, type CgroupLayout, type LinuxResources } from './cgroups';
import { ContainerError } from './errors';

/** A container's systemd unit, from its `linux.cgroupsPath`. */
export interface SystemdUnit {
  /** `<prefix>-<name>.scope`, or `<name>` itself when that names a slice. */
  name: string;
  /** The slice it belongs to: `Slice=` of a scope, `Wants=` of a slice (whose name places it). */
  slice: string;
  /** Its cgroup, relative to the root of the cgroup2 hierarchy. */
  cgroupPath: string;
}

// runc's defaults, with our name: `system.slice:runc:<id>` there (`user.slice` rootless, a slice
// of the user's own systemd instance).
const DEFAULT_SLICE = 'system.slice';
export const ROOTLESS_DEFAULT_SLICE = 'user.slice';
const DEFAULT_PREFIX = 'runcell';
const FIELD = 'config.json: config.linux.cgroupsPath';
// systemd's unit_name_is_valid(): these characters, and at most 255 of them.
const UNIT_NAME = /^[A-Za-z0-9:_.\\-]+$/;
const UNIT_NAME_MAX = 255;

/**
 * The unit of a container under --systemd-cgroup. `cgroupsPath` is runc's "slice:prefix:name"
 * (e.g. podman's `machine.slice:libpod:<id>`, kubelet's `kubepods-besteffort-pod<uid>.slice:
 * cri-containerd:<id>`): an empty slice is system.slice; no path at all is
 * `system.slice:runcell:<id>`. A name ending in `.slice` makes that slice instead of a scope.
 * runc accepts an empty name (a unit called `<prefix>-.scope`); we refuse it: no container
 * means to be called that, and two of them would share it.
 */
export function systemdUnitOf(cgroupsPath: string | undefined, containerId: string, defaultSlice = DEFAULT_SLICE): SystemdUnit {
  let [slice, prefix, name] = [defaultSlice, DEFAULT_PREFIX, containerId];
  if (cgroupsPath !== undefined && cgroupsPath !== '') {
    const parts = cgroupsPath.split(':');
    if (parts.length !== 3) {
      throw new SpecError(`${FIELD}: "${cgroupsPath}" is not of the form "slice:prefix:name" that --systemd-cgroup takes`);
    }
    [slice, prefix, name] = parts;
    if (slice === '') slice = defaultSlice;
  }
  if (name === '') throw new SpecError(`${FIELD}: "${cgroupsPath}" names no unit (its name part is empty)`);
  const isSlice = name.endsWith('.slice');
  const unit = isSlice ? name : `${prefix}-${name}.scope`;
  if (!UNIT_NAME.test(unit) || unit.length > UNIT_NAME_MAX) {
    throw new SpecError(`${FIELD}: "${unit}" is not a valid systemd unit name (at most ${UNIT_NAME_MAX} of A-Z a-z 0-9 : _ . \\ -)`);
  }
  const parent = expandSliceOf(slice);
  // A slice's place comes from its own name (a-b.slice is in a.slice), not from its parent.
  const cgroupPath = isSlice ? expandSliceOf(unit) : `${parent === '/' ? '' : parent}/${unit}`;
  return { name: unit, slice, cgroupPath };
}

function expandSliceOf(slice: string): string {
  try {
    return expandSlice(slice);
  } catch (error) {
    throw new SpecError(`${FIELD}: ${(error as Error).message}`);
  }
}

/**
 * The cgroup of a slice: systemd nests slices by the dashes of their names, so
 * `test-a-b.slice` is `/test.slice/test-a.slice/test-a-b.slice`, and `-.slice` is the root.
 */
export function expandSlice(slice: string): string {
  const suffix = '.slice';
  const invalid = () => new Error(`"${slice}" is not a valid slice name`);
  if (slice.length <= suffix.length || !slice.endsWith(suffix) || !UNIT_NAME.test(slice) || slice.length > UNIT_NAME_MAX) throw invalid();
  const base = slice.slice(0, -suffix.length);
  if (base === '-') return '/';
  let path = '';
  let prefix = '';
  for (const component of base.split('-')) {
    if (component === '') throw invalid(); // -a.slice, a--b.slice, a-.slice
    path += `/${prefix}${component}${suffix}`;
    prefix += `${component}-`;
  }
  return path;
}

/** A unit property as StartTransientUnit and SetUnitProperties take it: name, D-Bus type, value. */
export type UnitProperty = readonly [name: string, signature: string, value: unknown];

/** systemd's "infinity" for limits and times (CGROUP_LIMIT_MAX, USEC_INFINITY): uint64 max. */
export const INFINITY = 0xffff_ffff_ffff_ffffn;
// The kernel's default cpu.max period, assumed when only a quota is given.
const DEFAULT_CPU_PERIOD = 100_000n;

/**
 * The properties of a container's unit, limits aside. `pid` is the container's init, which a
 * scope must hold from its start (systemd refuses an empty scope); a slice holds no process of
 * its own, the init is written into its cgroup like any cgroupfs one.
 */
export function unitProperties(unit: SystemdUnit, containerId: string, pid: number): UnitProperty[] {
  const properties: UnitProperty[] = [['Description', 's', `runcell container ${containerId}`]];
  if (unit.name.endsWith('.slice')) {
    properties.push(['Wants', 'as', [unit.slice]]);
  } else {
    properties.push(['Slice', 's', unit.slice], ['PIDs', 'au', [pid]], ['Delegate', 'b', true]);
  }
  // Accounting on, as runc does: the controllers are enabled for the unit whatever it limits,
  // so `events --stats` reads the same files as with cgroupfs.
  for (const accounting of ['MemoryAccounting', 'CPUAccounting', 'IOAccounting', 'TasksAccounting']) {
    properties.push([accounting, 'b', true]);
  }
  // Not ordered after basic.target nor stopped at shutdown's conflicts: a container is not a
  // service of the boot.
  properties.push(['DefaultDependencies', 'b', false]);
  return properties;
}

/** A cgroup v2 file and its value; `fallback` is written instead where `file` does not exist. */
export interface FileSetting {
  file: string;
  value: string;
  fallback?: { file: string; value: string };
}

/**
 * The limits systemd knows as unit properties, from the cgroup v2 files the spec's resources
 * are written to (cgroups.ts decides those values: shares → weight, swap → swap alone, ...),
 * the way runc's unifiedResToSystemdProps reads `linux.resources.unified`. Any other file has no
 * property and is only written through cgroupfs. `systemdVersion` leaves out what an older
 * systemd does not know (CPUQuotaPeriodUSec: 242, AllowedCPUs/AllowedMemoryNodes: 244).
 */
export function resourceProperties(settings: ReadonlyArray<FileSetting>, systemdVersion: number): UnitProperty[] {
  const properties: UnitProperty[] = [];
  const MEMORY: Record<string, string> = {
    'memory.max': 'MemoryMax', 'memory.low': 'MemoryLow', 'memory.high': 'MemoryHigh', 'memory.min': 'MemoryMin',
    'memory.swap.max': 'MemorySwapMax',
  };
  for (const setting of settings) {
    // The BFQ weight (written when the disk's scheduler is BFQ) is systemd's IOWeight too, which
    // systemd converts to BFQ's range itself: take the io.weight it falls back to.
    const { file, value: raw } = setting.file === 'io.bfq.weight' && setting.fallback?.file === 'io.weight' ? setting.fallback : setting;
    const value = raw.trim();
    const fail = (why: string): never => {
      throw new ContainerError('ERR_INVALID_STATE', `cannot pass ${file}="${raw}" to systemd: ${why}`);
    };
    const limit = (text: string): bigint => {
      if (text === 'max' || text === '-1') return INFINITY;
      if (!/^\d+$/.test(text) || BigInt(text) >= INFINITY) fail('not a byte or task count');
      return BigInt(text);
    };
    if (MEMORY[file] !== undefined) {
      properties.push([MEMORY[file], 't', limit(value)]);
    } else if (file === 'pids.max') {
      properties.push(['TasksMax', 't', limit(value)]);
    } else if (file === 'cpu.weight') {
      if (!/^\d+$/.test(value)) fail('not a weight');
      properties.push(['CPUWeight', 't', BigInt(value)]);
    } else if (file === 'io.weight') {
      // "default N" (device-specific weights, "MAJ:MIN N", stay cgroupfs writes).
      const weight = /^(?:default\s+)?(\d+)$/.exec(value)?.[1];
      if (weight !== undefined) properties.push(['IOWeight', 't', BigInt(weight)]);
    } else if (file === 'cpu.max') {
      const [quota, period] = value.split(/\s+/);
      if (!/^(max|\d+)$/.test(quota ?? '') || (period !== undefined && !/^\d+$/.test(period))) fail('not "quota [period]"');
      properties.push(...cpuQuotaProperties(quota === 'max' ? undefined : BigInt(quota),
        period === undefined ? undefined : BigInt(period), systemdVersion));
    } else if (file === 'cpuset.cpus' || file === 'cpuset.mems') {
      if (systemdVersion < 244) {
        log.debug(`systemd ${systemdVersion} does not know AllowedCPUs/AllowedMemoryNodes: ${file} is written to the cgroup only`);
        continue;
      }
      let mask: number[] = [];
      try {
        mask = cpuMask(value);
      } catch (error) {
        fail((error as Error).message);
      }
      properties.push([file === 'cpuset.cpus' ? 'AllowedCPUs' : 'AllowedMemoryNodes', 'ay', mask]);
    }
  }
  return properties;
}

/**
 * cpu.max as systemd has it: CPUQuotaPerSecUSec, the quota per second of time, and the period.
 * systemd keeps the quota as a whole percentage of a CPU, so a quota that is not a multiple of
 * 10 ms per second is rounded up to one (as runc does): otherwise systemd would write a lower
 * cpu.max than the one we write, and whichever came last would win.
 */
export function cpuQuotaProperties(quota: bigint | undefined, period: bigint | undefined, systemdVersion: number): UnitProperty[] {
  const properties: UnitProperty[] = [];
  if (period !== undefined) {
    if (systemdVersion >= 242) properties.push(['CPUQuotaPeriodUSec', 't', period]);
    else log.debug(`systemd ${systemdVersion} does not know CPUQuotaPeriodUSec: the period is written to the cgroup only`);
  }
  let perSecond = INFINITY;
  if (quota !== undefined && quota > 0n) {
    const effectivePeriod = period === undefined || period === 0n ? DEFAULT_CPU_PERIOD : period;
    perSecond = (quota * 1_000_000n) / effectivePeriod;
    if (perSecond % 10_000n !== 0n) perSecond = (perSecond / 10_000n + 1n) * 10_000n;
  }
  properties.push(['CPUQuotaPerSecUSec', 't', perSecond]);
  return properties;
}

// Beyond any machine's CPUs or NUMA nodes (Linux's NR_CPUS is at most 8192): a bound on the
// mask a hostile "0-4000000000" would otherwise have us allocate.
const MAX_CPU = 65_535;

/**
 * A cpuset list ("0-3,8") as the bit mask systemd's AllowedCPUs takes: byte i holds CPUs
 * 8i..8i+7, the lowest bit the lowest CPU.
 */
export function cpuMask(list: string): number[] {
  const mask: number[] = [];
  const ranges = list.trim().split(',');
  for (const range of ranges) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(range);
    if (match === null) throw new Error(`"${list}" is not a list of numbers and ranges`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) throw new Error(`"${range.trim()}" is a range that ends before it starts`);
    if (last > MAX_CPU) throw new Error(`${last} is beyond any CPU or memory node (at most ${MAX_CPU})`);
    for (let cpu = first; cpu <= last; cpu++) {
      while (mask.length <= cpu >> 3) mask.push(0);
      mask[cpu >> 3] |= 1 << (cpu & 7);
    }
  }
  return mask;
}

/** systemd's version number from its Version property ("252.22-1~deb12u1", "v245.4-1.fc32"). */
export function parseSystemdVersion(text: string): number {
  const match = /^"?v?(\d+)/.exec(text);
  if (match === null) throw new Error(`cannot read systemd's version from "${text}"`);
  return Number(match[1]);
}

// ---- the host ---------------------------------------------------------------------------------

/** Where sd_booted(3) looks: this directory exists when systemd is the init. */
const SYSTEMD_RUNTIME_DIR = '/run/systemd/system';
const DEFAULT_SYSTEM_BUS = 'unix:path=/var/run/dbus/system_bus_socket';

/**
 * The uid the user's bus sees as ours (SO_PEERCRED, in its own user namespace, the host's): our
 * uid through /proc/self/uid_map, which maps it to the parent user namespace's (rootless podman
 * runs its runtime as root of a namespace mapping 0 to the user's uid); our own outside one.
 * runc asks busctl for the bus's OwnerUID instead; one level of mapping is what podman makes.
 */
export function busUid(uid = process.getuid!(), uidMap = readUidMap()): number {
  for (const line of uidMap.split('\n')) {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    if ([inside, outside, count].some((n) => !Number.isSafeInteger(n))) continue;
    if (uid >= inside && uid < inside + count) return outside + (uid - inside);
  }
  return uid;
}

// The bus connection's socket (dbus-next keeps it as _connection.stream) emits 'connect' (a net
// socket) or 'connected' (its other transports), and dbus-next's handshake listens to both.
export function tellUidDuringHandshake(bus: unknown, uid: number): void {
  const stream = (bus as { _connection?: { stream?: NodeJS.EventEmitter } })._connection?.stream;
  if (stream === undefined) throw new ContainerError('ERR_SYSTEMD', 'connecting to the user\'s bus: dbus-next keeps no socket where runcell looks for it');
  const own = process.getuid!;
  for (const event of ['connect', 'connected']) {
    stream.prependOnceListener(event, () => {
      process.getuid = () => uid;
    });
    stream.once(event, () => {
      process.getuid = own;
    });
  }
}

function readUidMap(): string {
  try {
    return fs.readFileSync('/proc/self/uid_map', 'utf8');
  } catch {
    return '';
  }
}

/**
 * Which systemd a container's unit belongs to: the host's (PID 1, on the system bus), or, for a
 * rootless container, the user's own instance (user@UID.service, on the user's bus).
 */
export type SystemdInstance = 'system' | 'user';

/**
 * The user's bus, where the user's systemd instance answers: DBUS_SESSION_BUS_ADDRESS, else
 * $XDG_RUNTIME_DIR/bus when it exists (as runc and sd_bus_open_user find it).
 */
export function userBusAddress(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
  const runtime = env.XDG_RUNTIME_DIR;
  if (!runtime || !runtime.startsWith('/')) return undefined;
  const socket = `${runtime.replace(/\/+$/, '')}/bus`;
  return fs.existsSync(socket) ? `unix:path=${socket}` : undefined;
}

/**
 * Refuses --systemd-cgroup where it cannot work, before anything is made: a host whose init is
 * not systemd, or one that is not pure cgroup v2 (the driver writes the delegated cgroup with the
 * v2 files; systemd's v1 and hybrid layouts are not driven by runcell).
 */
export function requireSystemdHost(layout: CgroupLayout, runtimeDir = SYSTEMD_RUNTIME_DIR): void {
  let booted = false;
  try {
    booted = fs.lstatSync(runtimeDir).isDirectory();
  } catch {
    // absent: not booted with systemd
  }
  if (!booted) {
    throw new ContainerError('ERR_SYSTEMD',
      `--systemd-cgroup: this host does not run systemd (${runtimeDir} does not exist): leave the flag out to use cgroupfs`);
  }
  if (layout.v1.size > 0 || layout.unified === null) {
    const v1 = [...new Set(layout.v1.keys())].join(', ');
    throw new ContainerError('ERR_SYSTEMD',
      `--systemd-cgroup: runcell drives systemd's cgroups on a pure cgroup v2 host only; this one mounts cgroup v1 controllers (${v1}): ` +
      'leave the flag out to use cgroupfs');
  }
}

// ---- systemd over D-Bus -------------------------------------------------------------------------

const MANAGER = { destination: 'org.freedesktop.systemd1', path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager' };
/** How long a job of systemd's may take, as runc waits: every wait is bounded. */
const JOB_TIMEOUT_MS = 30_000;

type DBusModule = typeof DBus;

function loadDBus(): DBusModule {
  // A plain require, kept out of the CLI bundle (src/cli/bundle.mjs marks it external): it
  // resolves from the package's node_modules, and only when a container uses the driver.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('dbus-next') as DBusModule;
}

function dbusErrorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && typeof (error as { type?: unknown }).type === 'string'
    ? (error as { type: string }).type : undefined;
}

function describeDBusError(error: unknown): string {
  const name = dbusErrorName(error);
  const text = error instanceof Error ? error.message : String(error);
  return name === undefined ? text : `${text} (${name})`;
}

/**
 * A connection to systemd's manager on the system bus. Jobs (what StartUnit and StopUnit queue)
 * are followed through the manager's JobRemoved signal, which can arrive before the reply that
 * names the job: every removed job is kept until asked for.
 */
export class Systemd {
  private readonly removedJobs = new Map<string, string>();
  private readonly jobWaiters = new Map<string, (result: string) => void>();
  private lost: Error | undefined;
  private readonly lostListeners = new Set<(error: Error) => void>();
  private version: number | undefined;

  private constructor(private readonly dbus: DBusModule, private readonly bus: DBus.MessageBus, readonly address: string,
    readonly instance: SystemdInstance) {
    bus.on('message', (message) => {
      if (message.type !== dbus.MessageType.SIGNAL || message.interface !== MANAGER.interface || message.member !== 'JobRemoved') return;
      const [, job, , result] = message.body as [number, string, string, string];
      const waiter = this.jobWaiters.get(job);
      if (waiter === undefined) this.removedJobs.set(job, result);
      else waiter(result);
    });
  }

  /**
   * Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS, as every D-Bus client honours it), or
   * for the user's instance to the user's bus (userBusAddress), authenticated as our uid
   * (EXTERNAL: the bus checks it against the socket's peer credentials).
   */
  static async connect(instance: SystemdInstance = 'system'): Promise<Systemd> {
    const dbus = loadDBus();
    let address: string;
    let bus: DBus.MessageBus;
    if (instance === 'system') {
      address = process.env.DBUS_SYSTEM_BUS_ADDRESS || DEFAULT_SYSTEM_BUS;
      bus = dbus.systemBus();
    } else {
      const user = userBusAddress();
      if (user === undefined) {
        throw new ContainerError('ERR_SYSTEMD', '--systemd-cgroup (rootless): there is no user bus to reach the user\'s systemd instance on ' +
          '(DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist; `loginctl enable-linger` starts the user\'s ' +
          'instance): leave the flag out to use the delegated cgroup, if any');
      }
      address = user;
      bus = dbus.sessionBus({ busAddress: address, authMethods: ['EXTERNAL'] } as Parameters<DBusModule['sessionBus']>[0]);
      // dbus-next says who we are with process.getuid(), which in a user namespace (rootless
      // podman runs its runtime as root of one) is not the uid the bus sees on the socket. It
      // reads it synchronously in its handshake, which starts from the socket's connect event:
      // process.getuid answers the host's uid only inside that one event's listeners (ours run
      // just before and just after dbus-next's), so no other code of the process ever sees it.
      const hostUid = busUid();
      if (hostUid !== process.getuid!()) tellUidDuringHandshake(bus, hostUid);
    }
    const systemd = new Systemd(dbus, bus, address, instance);
    const busName = instance === 'system' ? 'the system bus' : 'the user\'s bus';
    bus.on('error', (error: unknown) => systemd.fail(error instanceof Error ? error : new Error(String(error))));
    try {
      await systemd.whileConnected(new Promise<void>((resolve) => bus.once('connect', resolve)), `connecting to ${busName}`);
      // The job signals; go-systemd asks for the same match (a job's requester gets them).
      await systemd.whileConnected(bus.call(new dbus.Message({
        destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'AddMatch',
        signature: 's', body: [`type='signal',sender='${MANAGER.destination}',path='${MANAGER.path}',interface='${MANAGER.interface}',member='JobRemoved'`],
      })), 'subscribing to systemd\'s job signals');
    } catch (error) {
      systemd.close();
      throw new ContainerError('ERR_SYSTEMD',
        `--systemd-cgroup: cannot reach ${instance === 'system' ? 'systemd on the D-Bus system bus' : 'the user\'s systemd instance on the user\'s bus'} ` +
        `(${address}): ${describeDBusError(error)}`, { cause: error });
    }
    return systemd;
  }

  close(): void {
    this.fail(new Error(`the connection to the ${this.instance === 'system' ? 'system' : 'user\'s'} bus was closed`));
    this.bus.disconnect();
  }

  /**
   * Starts a transient unit and waits for its job. A unit of that name left over in the failed
   * state is reset and the start tried once more (runc does the same).
   */
  async startTransientUnit(name: string, properties: readonly UnitProperty[]): Promise<void> {
    const { Variant } = this.dbus;
    const body = [name, 'replace', properties.map(([property, signature, value]) => [property, new Variant(signature, value)]), []];
    let job: string;
    try {
      job = await this.callManager('StartTransientUnit', 'ssa(sv)a(sa(sv))', body) as string;
    } catch (error) {
      if (dbusErrorName(error) !== 'org.freedesktop.systemd1.UnitExists') throw this.refusal('start', name, error);
      await this.resetFailedUnit(name);
      try {
        job = await this.callManager('StartTransientUnit', 'ssa(sv)a(sa(sv))', body) as string;
      } catch (again) {
        throw this.refusal('start', name, again);
      }
    }
    const result = await this.jobResult(job, name, 'start');
    if (result !== 'done') {
      await this.resetFailedUnit(name);
      throw new ContainerError('ERR_SYSTEMD', `systemd could not start unit "${name}": its start job ended "${result}"`);
    }
  }

  /**
   * Stops a unit and waits for its job, then resets it should it have failed. A unit that is
   * gone already (a scope goes by itself when its last process exits) is stopped.
   */
  async stopUnit(name: string): Promise<void> {
    let job: string | undefined;
    try {
      job = await this.callManager('StopUnit', 'ss', [name, 'replace']) as string;
    } catch (error) {
      if (dbusErrorName(error) !== 'org.freedesktop.systemd1.NoSuchUnit') throw this.refusal('stop', name, error);
    }
    if (job !== undefined) {
      const result = await this.jobResult(job, name, 'stop');
      if (result !== 'done') log.warn(`systemd's stop job of unit "${name}" ended "${result}"`);
    }
    await this.resetFailedUnit(name);
  }

  /** Changes properties of a running unit, for now only (runtime: not written to /etc). */
  async setUnitProperties(name: string, properties: readonly UnitProperty[]): Promise<void> {
    const { Variant } = this.dbus;
    const body = [name, true, properties.map(([property, signature, value]) => [property, new Variant(signature, value)])];
    try {
      await this.callManager('SetUnitProperties', 'sba(sv)', body);
    } catch (error) {
      throw this.refusal('update', name, error);
    }
  }

  /** systemd's version (252 for "252.22-1~deb12u1"), read once. */
  async systemdVersion(): Promise<number> {
    if (this.version === undefined) {
      const reply = await this.whileConnected(this.bus.call(new this.dbus.Message({
        destination: MANAGER.destination, path: MANAGER.path, interface: 'org.freedesktop.DBus.Properties', member: 'Get',
        signature: 'ss', body: [MANAGER.interface, 'Version'],
      })), 'reading systemd\'s version');
      this.version = parseSystemdVersion(String((reply?.body[0] as DBus.Variant<string>).value));
    }
    return this.version;
  }

  /**
   * The cgroup of the manager itself, relative to the hierarchy's root: "/" for PID 1, the
   * user's `/user.slice/user-UID.slice/user@UID.service` for a user's instance, whose units'
   * cgroups lie below it.
   */
  async managerCgroup(): Promise<string> {
    const reply = await this.whileConnected(this.bus.call(new this.dbus.Message({
      destination: MANAGER.destination, path: MANAGER.path, interface: 'org.freedesktop.DBus.Properties', member: 'Get',
      signature: 'ss', body: [MANAGER.interface, 'ControlGroup'],
    })), 'reading the manager\'s cgroup');
    const value = String((reply?.body[0] as DBus.Variant<string>).value);
    if (value === '') return '/';
    if (!value.startsWith('/') || value.split('/').includes('..')) {
      throw new ContainerError('ERR_SYSTEMD', `systemd's manager names its cgroup "${value}", which is not an absolute cgroup path`);
    }
    return value;
  }

  private async resetFailedUnit(name: string): Promise<void> {
    try {
      await this.callManager('ResetFailedUnit', 's', [name]);
    } catch (error) {
      // Not loaded, or not failed: nothing to reset.
      log.debug(`resetting systemd unit "${name}": ${describeDBusError(error)}`);
    }
  }

  private async callManager(member: string, signature: string, body: unknown[]): Promise<unknown> {
    const reply = await this.whileConnected(this.bus.call(new this.dbus.Message({ ...MANAGER, member, signature, body })), `calling ${member}`);
    return reply?.body[0];
  }

  private refusal(action: string, name: string, error: unknown): ContainerError {
    return new ContainerError('ERR_SYSTEMD', `systemd refused to ${action} unit "${name}": ${describeDBusError(error)}`, { cause: error });
  }

  private jobResult(job: string, unit: string, action: string): Promise<string> {
    const known = this.removedJobs.get(job);
    if (known !== undefined) {
      this.removedJobs.delete(job);
      return Promise.resolve(known);
    }
    let timer: NodeJS.Timeout | undefined;
    const removed = new Promise<string>((resolve, reject) => {
      this.jobWaiters.set(job, resolve);
      timer = setTimeout(() => reject(new ContainerError('ERR_SYSTEMD',
        `systemd did not finish the ${action} job of unit "${unit}" within ${JOB_TIMEOUT_MS / 1000} s`)), JOB_TIMEOUT_MS);
    });
    return this.whileConnected(removed, `waiting for the ${action} job of unit "${unit}"`).finally(() => {
      clearTimeout(timer);
      this.jobWaiters.delete(job);
    });
  }

  // A call or a wait ends also when the connection does: dbus-next leaves its promises pending.
  private whileConnected<T>(promise: Promise<T>, what: string): Promise<T> {
    if (this.lost !== undefined) return Promise.reject(new Error(`${what}: ${this.lost.message}`));
    let onLost: ((error: Error) => void) | undefined;
    const lost = new Promise<never>((_, reject) => {
      onLost = (error) => reject(new Error(`${what}: ${error.message}`, { cause: error }));
      this.lostListeners.add(onLost);
    });
    return Promise.race([promise, lost]).finally(() => this.lostListeners.delete(onLost!));
  }

  private fail(error: Error): void {
    this.lost ??= error;
    for (const listener of this.lostListeners) listener(error);
  }
}

// ---- a container's unit -------------------------------------------------------------------------

/**
 * Starts the container's unit with its init in it, then writes the resources into the delegated
 * cgroup. The init has been cloned and runs nothing until told (the gofer waits for us, see
 * `g-cgroup-manager` in launch-plan.ts): the equivalent of runc's manager.Apply(pid) on its
 * `runc init`, which waits on its sync pipe likewise. systemd moves the init into the scope when
 * the start job runs, and its JobRemoved signal says "done" once it has.
 */
export async function startContainerUnit(systemd: Systemd, unit: SystemdUnit, containerId: string, initPid: number,
  cgroup: Cgroup, resources: LinuxResources): Promise<void> {
  // The limits are converted, and values systemd cannot take refused, before it is asked anything.
  const limits = await limitProperties(systemd, resources);
  await systemd.startTransientUnit(unit.name, [...unitProperties(unit, containerId, initPid), ...limits]);
  cgroup.apply(resources);
}

/** `update` under the driver: the properties systemd knows, then every file through cgroupfs. */
export async function updateContainerUnit(unitName: string, cgroup: Cgroup, resources: LinuxResources,
  instance: SystemdInstance = 'system'): Promise<void> {
  const systemd = await Systemd.connect(instance);
  try {
    const limits = await limitProperties(systemd, resources);
    if (limits.length > 0) await systemd.setUnitProperties(unitName, limits);
  } finally {
    systemd.close();
  }
  cgroup.apply(resources);
}

/** Stops the container's unit (on delete, once its processes are gone). */
export async function stopContainerUnit(unitName: string, instance: SystemdInstance = 'system'): Promise<void> {
  const systemd = await Systemd.connect(instance);
  try {
    await systemd.stopUnit(unitName);
  } finally {
    systemd.close();
  }
}

async function limitProperties(systemd: Systemd, resources: LinuxResources): Promise<UnitProperty[]> {
  const settings = v2Settings(resources);
  const needsVersion = settings.some((s) => s.file === 'cpu.max' || s.file === 'cpuset.cpus' || s.file === 'cpuset.mems');
  return resourceProperties(settings, needsVersion ? await systemd.systemdVersion() : Number.MAX_SAFE_INTEGER);
}
