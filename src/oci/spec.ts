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

export const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;
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
    rlimits: [arrayOf(fields({ type: [string, true], soft: [uint64, true], hard: [uint64, true] }))],
    noNewPrivileges: [boolean],
    oomScoreAdj: [integer(-1000, 1000)],
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
    hooks: [object],
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
    })],
  });
  return { config, process, fail };
}
