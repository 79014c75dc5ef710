// `runcell update`'s flags (runc's names and value formats) as the LinuxResources they set: only
// what a flag gives, so everything else stays as it is.
import { SpecError } from '../oci/spec';
import type { LinuxResources } from './cgroups';

/** The flags as typed, each a string (or undefined when not given). */
export interface ResourceFlags {
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  kernelMemory?: string;
  kernelMemoryTcp?: string;
  cpuShare?: string;
  cpuQuota?: string;
  cpuPeriod?: string;
  cpuBurst?: string;
  cpuIdle?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: string;
  blkioWeight?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * A size as runc reads --memory and its kin (docker/go-units RAMInBytes): a number with an
 * optional binary unit, "64m", "1.5g", "512MiB", "100"; "-1" is unlimited.
 */
export function parseMemorySize(flag: string, value: string): number {
  if (value === '-1') return -1;
  const match = /^(\d+(?:\.\d+)*) ?([kmgtp])?i?b?$/i.exec(value);
  if (match === null) throw new SpecError(`--${flag}: invalid size "${value}" (a number of bytes, with k, m, g, t or p, or -1)`);
  const bytes = Math.trunc(parseFloat(match[1]) * UNITS[(match[2] ?? '').toLowerCase()]);
  if (!Number.isSafeInteger(bytes)) throw new SpecError(`--${flag}: "${value}" is too large`);
  return bytes;
}

// Go's strconv.ParseUint / ParseInt in base 10, as runc parses these flags.
function parseInteger(flag: string, value: string, signed: boolean): number {
  if (!(signed ? /^[+-]?\d+$/ : /^\d+$/).test(value)) {
    throw new SpecError(`--${flag}: "${value}" is not ${signed ? 'an integer' : 'a non-negative integer'}`);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new SpecError(`--${flag}: "${value}" is out of range`);
  return n;
}

/** The resources the flags set. */
export function resourcesFromFlags(flags: ResourceFlags): LinuxResources {
  // runc's Intel RDT flags: runcell does not manage resctrl groups (linux.intelRdt is refused too).
  for (const [flag, value] of [['l3-cache-schema', flags.l3CacheSchema], ['mem-bw-schema', flags.memBwSchema]]) {
    if (value !== undefined) throw new SpecError(`--${flag}: Intel RDT is not supported by runcell`);
  }
  const r: LinuxResources = {};
  const memory = (r.memory ??= {});
  const cpu = (r.cpu ??= {});
  const size = (flag: string, value: string | undefined) => (value === undefined ? undefined : parseMemorySize(flag, value));
  const uint = (flag: string, value: string | undefined) => (value === undefined ? undefined : parseInteger(flag, value, false));
  const int = (flag: string, value: string | undefined) => (value === undefined ? undefined : parseInteger(flag, value, true));
  memory.limit = size('memory', flags.memory);
  memory.swap = size('memory-swap', flags.memorySwap);
  memory.reservation = size('memory-reservation', flags.memoryReservation);
  memory.kernel = size('kernel-memory', flags.kernelMemory);
  memory.kernelTCP = size('kernel-memory-tcp', flags.kernelMemoryTcp);
  cpu.shares = uint('cpu-share', flags.cpuShare);
  cpu.quota = int('cpu-quota', flags.cpuQuota);
  cpu.period = uint('cpu-period', flags.cpuPeriod);
  cpu.burst = uint('cpu-burst', flags.cpuBurst);
  cpu.idle = int('cpu-idle', flags.cpuIdle);
  cpu.realtimePeriod = uint('cpu-rt-period', flags.cpuRtPeriod);
  cpu.realtimeRuntime = int('cpu-rt-runtime', flags.cpuRtRuntime);
  // runc: an empty string leaves the set as it is.
  if (flags.cpusetCpus) cpu.cpus = flags.cpusetCpus;
  if (flags.cpusetMems) cpu.mems = flags.cpusetMems;
  // runc's integer flags: 0 (their default) changes nothing.
  const pids = int('pids-limit', flags.pidsLimit);
  if (pids !== undefined && pids !== 0) r.pids = { limit: pids };
  const weight = int('blkio-weight', flags.blkioWeight);
  if (weight !== undefined && weight !== 0) r.blockIO = { weight }; // its range is the kernel's (CFQ 10..1000, BFQ 1..1000)
  return dropUnset(r);
}

/** True when any flag is given. */
export function anyResourceFlag(flags: ResourceFlags): boolean {
  return Object.values(flags).some((value) => value !== undefined);
}

function dropUnset(r: LinuxResources): LinuxResources {
  for (const [group, fields] of Object.entries(r) as Array<[keyof LinuxResources, Record<string, unknown>]>) {
    for (const key of Object.keys(fields)) if (fields[key] === undefined) delete fields[key];
    if (Object.keys(fields).length === 0) delete r[group];
  }
  return r;
}
