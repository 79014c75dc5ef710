// Rootless: runcell run by a user who is not the host's root. runc's rules, which runcell follows:
//   - rootless (its "rootless cgroup manager") when --rootless says so, else when our effective
//     uid is not 0, or when it is 0 inside a user namespace (uid_map is not the identity map of
//     the whole range): such a root may not own the cgroups it sees (runc's
//     shouldUseRootlessCgroupManager);
//   - the state lives in $XDG_RUNTIME_DIR/runcell rather than /run/runcell for a user who is not
//     the host's root (runc's shouldHonorXDGRuntimeDir);
//   - on cgroup v2 the container's cgroup is made in a subtree delegated to the user where there
//     is one (rootless-cgroup.ts);
//   - without a cgroup we may write, the container gets none, and a config that asks for limits
//     is refused (runc: "cannot set memory limit: container could not join or create cgroup");
//   - a limit whose controller is not delegated to the user is refused naming both (rootless-cgroup.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_ROOT } from './defaults';
import type { LinuxResources } from './cgroups';

export type RootlessSetting = 'auto' | 'true' | 'false';

export const ROOTLESS_SETTINGS: readonly RootlessSetting[] = ['auto', 'true', 'false'];

/** Whether this process runs in a user namespace other than the host's: its uid_map does not
 * map the whole range onto itself (runc's userns.RunningInUserNS). */
export function runningInUserNamespace(): boolean {
  // Read once: a process with threads (Node has them from the start) can neither unshare nor
  // setns into another user namespace (EINVAL), so the answer never changes; a create asked twice.
  inUserNamespace ??= readUidMapIsForeign();
  return inUserNamespace;
}

let inUserNamespace: boolean | undefined;

function readUidMapIsForeign(): boolean {
  let map: string;
  try {
    map = fs.readFileSync('/proc/self/uid_map', 'utf8');
  } catch {
    return false; // no user namespaces in this kernel: the host's
  }
  const lines = map.trim().split('\n').map((line) => line.trim().split(/\s+/));
  return !(lines.length === 1 && lines[0][0] === '0' && lines[0][1] === '0' && lines[0][2] === '4294967295');
}

/** Whether runcell works rootless: `--rootless true|false`, or for auto runc's rule above. */
export function isRootless(setting: RootlessSetting = 'auto'): boolean {
  if (setting !== 'auto') return setting === 'true';
  if ((process.geteuid?.() ?? 0) !== 0) return true;
  return runningInUserNamespace();
}

export class RootDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RootDirError';
  }
}

/**
 * The state directory when --root is not given: $XDG_RUNTIME_DIR/runcell for a user who is not
 * the host's root (a root inside a user namespace too, unless USER is "root", as runc), else
 * /run/runcell. A user without XDG_RUNTIME_DIR gets an error rather than /run/runcell, which
 * is not theirs to write (runc fails there with EACCES on mkdir).
 */
export function defaultRootDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_RUNTIME_DIR ?? '';
  const euid = process.geteuid?.() ?? 0;
  const honorXdg = euid !== 0 || (runningInUserNamespace() && env.USER !== 'root');
  if (!honorXdg) return DEFAULT_ROOT;
  if (xdg === '') {
    if (euid === 0) return DEFAULT_ROOT;
    throw new RootDirError(`XDG_RUNTIME_DIR is not set: as a user other than root (uid ${euid}), runcell keeps its state in ` +
      '$XDG_RUNTIME_DIR/runcell; set it, or give --root');
  }
  if (!path.isAbsolute(xdg)) throw new RootDirError(`XDG_RUNTIME_DIR "${xdg}" is not an absolute path: set it right, or give --root`);
  return path.join(xdg, 'runcell');
}

/**
 * The limits of linux.resources, as the fields that set them (device rules are not among them:
 * runc ignores them rootless, as the container cannot make a device node anyway).
 */
export function requestedLimits(resources: LinuxResources | undefined): string[] {
  if (resources === undefined || resources === null) return [];
  const fields: string[] = [];
  const visit = (value: unknown, field: string) => {
    if (value === undefined || value === null) return;
    if (Array.isArray(value)) {
      if (value.length > 0) fields.push(field);
    } else if (typeof value === 'object') {
      for (const [key, inner] of Object.entries(value as Record<string, unknown>)) visit(inner, `${field}.${key}`);
    } else if (value !== false && value !== 0 && value !== '') {
      // As runc's specconv: zero, false and "" leave a setting at the kernel's default.
      fields.push(field);
    }
  };
  for (const [key, value] of Object.entries(resources)) {
    if (key !== 'devices') visit(value, `linux.resources.${key}`);
  }
  return fields;
}

/**
 * newuidmap and newgidmap where PATH has them (runc looks them up the same way), for maps that
 * go beyond the user's own uid and gid.
 */
export function idmapHelpers(env: NodeJS.ProcessEnv = process.env): { uid?: string; gid?: string } {
  const find = (name: string) => (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter((d) => path.isAbsolute(d))
    .map((d) => path.join(d, name)).find((file) => {
      try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
      } catch {
        return false;
      }
    });
  return { uid: find('newuidmap'), gid: find('newgidmap') };
}
