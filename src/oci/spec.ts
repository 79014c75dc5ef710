// The part of the OCI runtime configuration (config.json) runcell reads, and its validation.
//
// Every rule below comes from the runtime-spec's config.md / config-linux.md; a value that
// breaks one is reported with the file and the field's path, e.g.
// `config.json: process.user.uid: must be an integer from 0 to 4294967295`.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  /** An id-mapped mount's mappings (with the "idmap" or "ridmap" option, or alone). */
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
}

export interface Rlimit {
  type: string;
  soft: number;
  hard: number;
}

export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface Process {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; umask?: number; additionalGids?: number[] };
  args?: string[];
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
  /** The AppArmor profile the process runs under (applied at its execve). */
  apparmorProfile?: string;
  /** The SELinux label the process runs under (applied at its execve). */
  selinuxLabel?: string;
}

export interface Personality {
  domain: string;
  flags?: string[];
}

export interface Namespace {
  type: string;
  path?: string;
}

export interface Device {
  type: string;
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface Linux {
  namespaces?: Namespace[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  devices?: Device[];
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  rootfsPropagation?: string;
  cgroupsPath?: string;
  resources?: Record<string, unknown>;
  seccomp?: Record<string, unknown>;
  /** The SELinux context of the container's mounts (a context= option). */
  mountLabel?: string;
  personality?: Personality;
}

export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Record<string, unknown>;
  annotations?: Record<string, string>;
  linux?: Linux;
}

/** The hook kinds of config.hooks, in the order of the lifecycle. */
export const HOOK_KINDS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;

export const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;
/** The domains of linux.personality (config-linux.md: "Valid values: LINUX, LINUX32"). */
export const PERSONALITY_DOMAINS = ['LINUX', 'LINUX32'] as const;

/** The rlimit types of process.rlimits, by their number for setrlimit(2). */
export const RLIMITS: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5, RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

export const PROPAGATIONS = ['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable'];

export class SpecError extends Error {
  readonly code = 'ERR_INVALID_SPEC';
}

/** Reads and validates `<bundle>/config.json`. */
export function loadSpec(bundle: string): Spec {
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new SpecError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SpecError(`${file}: not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return validateSpec(value, file);
}

type Check = (value: unknown, at: string) => void;

export function validateSpec(value: unknown, file = 'config.json'): Spec {
  const { config, fail } = specChecks(file);
  config(value, 'config');
  const spec = value as Spec;
  if (!/^1\.\d+\.\d+/.test(spec.ociVersion)) fail('config.ociVersion', `"${spec.ociVersion}" is not a 1.x runtime-spec version`);
  const seen = new Set<string>();
  for (const [i, ns] of (spec.linux?.namespaces ?? []).entries()) {
    if (seen.has(ns.type)) fail(`config.linux.namespaces[${i}].type`, `"${ns.type}" is listed twice`);
    seen.add(ns.type);
  }
  return spec;
}

/** Validates a process object on its own (`exec --process process.json`), by config.json's rules. */
export function validateProcess(value: unknown, file: string): Process {
  specChecks(file).process(value, 'process');
  return value as Process;
}

// The rules of config.json, field by field; `fail` names the file and the field's path.
function specChecks(file: string): { config: Check; process: Check; fail: (at: string, rule: string) => never } {
  const fail = (at: string, rule: string): never => {
    throw new SpecError(`${file}: ${at}: ${rule}`);
  };
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const object: Check = (v, at) => { if (!isObject(v)) fail(at, 'must be an object'); };
  const string: Check = (v, at) => { if (typeof v !== 'string') fail(at, 'must be a string'); };
  const boolean: Check = (v, at) => { if (typeof v !== 'boolean') fail(at, 'must be true or false'); };
  const integer = (min: number, max: number): Check => (v, at) => {
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) fail(at, `must be an integer from ${min} to ${max}`);
  };
  const uint32 = integer(0, 0xffffffff);
  const uint64 = integer(0, Number.MAX_SAFE_INTEGER);
  const absolute: Check = (v, at) => {
    string(v, at);
    if (!(v as string).startsWith('/')) fail(at, 'must be an absolute path');
  };
  const arrayOf = (each: Check): Check => (v, at) => {
    if (!Array.isArray(v)) fail(at, 'must be an array');
    (v as unknown[]).forEach((item, i) => each(item, `${at}[${i}]`));
  };
  const fields = (spec: Record<string, [Check, boolean?]>): Check => (v, at) => {
    object(v, at);
    for (const [key, [check, required]] of Object.entries(spec)) {
      const field = (v as Record<string, unknown>)[key];
      if (field === undefined) {
        if (required) fail(`${at}.${key}`, 'is required');
        continue;
      }
      check(field, `${at}.${key}`);
    }
  };
  const stringMap: Check = (v, at) => {
    object(v, at);
    for (const [key, item] of Object.entries(v as object)) string(item, `${at}.${key}`);
  };
  const idMapping = fields({ containerID: [uint32, true], hostID: [uint32, true], size: [uint32, true] });
  const oneOf = (allowed: readonly string[]): Check => (v, at) => {
    if (!allowed.includes(v as string)) fail(at, `must be one of ${allowed.join(', ')}`);
  };
  const unsupported = (why: string): Check => (_v, at) => fail(at, why);
  // "path (string, REQUIRED) with similar semantics to IEEE Std 1003.1-2008 execv's path. This
  // specification extends the IEEE standard in that path MUST be absolute." A relative one would
  // run against the caller's working directory.
  const hook = fields({
    path: [(v, at) => {
      string(v, at);
      if (!(v as string).startsWith('/')) fail(at, `"${v as string}" is not absolute`);
    }, true],
    args: [arrayOf(string)],
    env: [arrayOf(string)],
    // "If set, timeout MUST be greater than zero."
    timeout: [integer(1, 2 ** 31 - 1)],
  });

  const process = fields({
    terminal: [boolean],
    consoleSize: [fields({ height: [uint32, true], width: [uint32, true] })],
    user: [fields({ uid: [uint32, true], gid: [uint32, true], umask: [uint32], additionalGids: [arrayOf(uint32)] }), true],
    args: [(v, at) => {
      arrayOf(string)(v, at);
      if ((v as unknown[]).length === 0) fail(at, 'must name the program to run');
    }],
    env: [arrayOf((v, at) => {
      string(v, at);
      if (!(v as string).includes('=')) fail(at, 'must have the form KEY=value');
    })],
    cwd: [absolute, true],
    capabilities: [fields(Object.fromEntries(['bounding', 'effective', 'inheritable', 'permitted', 'ambient']
      .map((set) => [set, [arrayOf(string)]]))) ],
    rlimits: [(v, at) => {
      arrayOf(fields({ type: [(t, at) => { string(t, at); if (!Object.hasOwn(RLIMITS, t as string)) fail(at, `unknown rlimit "${t as string}"`); }, true], soft: [uint64, true], hard: [uint64, true] }))(v, at);
      // "Each type MUST be unique"; setrlimit(2) refuses a soft limit above the hard one (EINVAL).
      const seen = new Set<string>();
      for (const [i, limit] of (v as Rlimit[]).entries()) {
        if (seen.has(limit.type)) fail(`${at}[${i}].type`, `"${limit.type}" is listed twice (each type must be unique)`);
        seen.add(limit.type);
        if (limit.soft > limit.hard) fail(`${at}[${i}].soft`, `${limit.soft} is above the hard limit ${limit.hard}`);
      }
    }],
    noNewPrivileges: [boolean],
    oomScoreAdj: [integer(-1000, 1000)],
    apparmorProfile: [string],
    selinuxLabel: [string],
    // Fields of the runtime-spec that runcell does not implement: refused, never dropped
    // (a setting that cannot be applied is an error). runc 1.1 ignores them.
    ioPriority: [unsupported('the I/O priority (ioprio_set) is not implemented by runcell')],
    scheduler: [unsupported('the scheduling policy (sched_setattr) is not implemented by runcell')],
    execCPUAffinity: [unsupported('the CPU affinity of exec is not implemented by runcell')],
  });
  const config = fields({
    ociVersion: [string, true],
    process: [process],
    root: [fields({ path: [string, true], readonly: [boolean] })],
    hostname: [string],
    domainname: [string],
    mounts: [arrayOf(fields({
      destination: [string, true], type: [string], source: [string], options: [arrayOf(string)],
      uidMappings: [arrayOf(idMapping)], gidMappings: [arrayOf(idMapping)],
    }))],
    hooks: [fields(Object.fromEntries(HOOK_KINDS.map((kind) => [kind, [arrayOf(hook)]])))],
    annotations: [stringMap],
    linux: [fields({
      namespaces: [arrayOf(fields({ type: [oneOf(NAMESPACE_TYPES), true], path: [absolute] }))],
      uidMappings: [arrayOf(idMapping)],
      gidMappings: [arrayOf(idMapping)],
      devices: [arrayOf(fields({
        type: [oneOf(['c', 'b', 'u', 'p']), true], path: [absolute, true], major: [integer(0, 2 ** 31)], minor: [integer(0, 2 ** 31)],
        fileMode: [uint32], uid: [uint32], gid: [uint32],
      }))],
      sysctl: [stringMap],
      maskedPaths: [arrayOf(absolute)],
      readonlyPaths: [arrayOf(absolute)],
      rootfsPropagation: [oneOf(PROPAGATIONS)],
      cgroupsPath: [string],
      resources: [object],
      seccomp: [object],
      mountLabel: [string],
      // "domain (string, REQUIRED) ... Valid values: LINUX, LINUX32"; "flags (array of
      // strings, OPTIONAL) ... Currently no flag values are supported."
      personality: [fields({
        domain: [oneOf(PERSONALITY_DOMAINS), true],
        flags: [arrayOf((v, at) => fail(at, `unknown personality flag ${JSON.stringify(v)} (the runtime-spec defines none)`))],
      })],
      // Fields of the runtime-spec runcell does not implement: refused, never dropped.
      intelRdt: [unsupported('Intel RDT (resctrl) is not implemented by runcell')],
      timeOffsets: [unsupported('time namespaces are not supported')],
      netDevices: [unsupported('moving network devices into the container is not implemented by runcell')],
      memoryPolicy: [unsupported('the NUMA memory policy (set_mempolicy) is not implemented by runcell')],
    })],
  });
  return { config, process, fail };
}
