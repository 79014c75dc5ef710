// linux.sysctl: a container may set only what belongs to a namespace of its own, or it would
// change the host (kernel.core_pattern is code execution there). runc's rule
// (libcontainer/configs/validate): the ipc namespace's keys, the uts namespace's two, and net.*
// in a network namespace that is not the host's; anything else is refused by name at create.
import * as fs from 'node:fs';
import { SpecError } from '../oci/spec';

const IPC_KEYS = new Set([
  'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);
const UTS_KEYS = new Set(['kernel.hostname', 'kernel.domainname']);

/** The namespaces of a spec: type → its path (undefined: a new one). */
export type SpecNamespaces = ReadonlyMap<string, string | undefined>;

/**
 * The file under /proc/sys of each of the spec's sysctls, checked: the key names a sysctl of a
 * namespace the container has (a new one, or one joined by path that is not the host's), and
 * it cannot leave /proc/sys (no empty, "." or ".." component, no "/").
 */
export function sysctlFiles(sysctl: Readonly<Record<string, unknown>> | undefined, namespaces: SpecNamespaces): Array<{ key: string; file: string; value: string }> {
  return Object.entries(sysctl ?? {}).map(([key, value]) => {
    const field = `config.json: config.linux.sysctl: "${key}"`;
    if (typeof value !== 'string') throw new SpecError(`${field}: its value must be a string`);
    const parts = key.split('.');
    if (key.includes('/') || parts.some((p) => p === '' || p === '..')) throw new SpecError(`${field} is not a sysctl name`);
    const namespace = namespaceOf(key);
    if (namespace === null) throw new SpecError(`${field} is not in a separate kernel namespace: setting it would change the host`);
    if (!namespaces.has(namespace)) {
      throw new SpecError(`${field} needs a ${namespace} namespace of the container's own, and its spec has none: setting it would change the host's`);
    }
    const joined = namespaces.get(namespace);
    if (namespace === 'network' && joined !== undefined && isHostNamespace(joined, 'net')) {
      throw new SpecError(`${field}: the network namespace "${joined}" is the host's`);
    }
    return { key, file: `/proc/sys/${parts.join('/')}`, value };
  });
}

function namespaceOf(key: string): 'ipc' | 'uts' | 'network' | null {
  if (IPC_KEYS.has(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  if (UTS_KEYS.has(key)) return 'uts';
  if (key.startsWith('net.')) return 'network';
  return null;
}

// The host's namespace of a kind is the one this process runs in (the runtime runs on the host).
function isHostNamespace(nsPath: string, kind: string): boolean {
  try {
    const joined = fs.statSync(nsPath);
    const ours = fs.statSync(`/proc/self/ns/${kind}`);
    return joined.dev === ours.dev && joined.ino === ours.ino;
  } catch {
    return false; // a path that cannot be read fails where it is joined, with its own error
  }
}
