// Container ids and the names of the files a container owns in the flat root directory:
// `<cid>_sandbox:<sid>.<ext>`. Ids match ^[\w+\-.]+$, so "_sandbox:" cannot be forged (":" is
// not allowed in an id) and no id can reach outside the root directory ("/" is not allowed).
import { ContainerError } from './errors';

export interface FullId {
  containerId: string;
  sandboxId: string;
}

const ID_PATTERN = /^[\w+\-.]+$/;
// Two ids and the longest suffix ("_sandbox:" and ".state") must fit a 255-byte file name.
export const MAX_ID_LENGTH = 110;
const SEPARATOR = '_sandbox:';
const FILE_NAME_PATTERN = /^([\w+\-.]+)_sandbox:([\w+\-.]+)\.([a-z]+)$/;

export function validateId(id: unknown): string {
  if (typeof id !== 'string' || id === '') throw ContainerError.invalidId(String(id ?? ''), 'it is empty');
  if (!ID_PATTERN.test(id)) {
    throw ContainerError.invalidId(id, 'only letters, digits, "_", "+", "-" and "." are allowed');
  }
  if (id === '.' || id === '..') throw ContainerError.invalidId(id, 'it must not be "." or ".."');
  if (id.length > MAX_ID_LENGTH) throw ContainerError.invalidId(id, `it is longer than ${MAX_ID_LENGTH} characters`);
  return id;
}

/** The name every file of the container starts with. */
export function baseName(id: FullId): string {
  return `${id.containerId}${SEPARATOR}${id.sandboxId}`;
}

/** The full id and extension a file name encodes, or null for a file that is not ours. */
export function parseFileName(name: string): (FullId & { ext: string }) | null {
  const match = FILE_NAME_PATTERN.exec(name);
  if (match === null) return null;
  return { containerId: match[1], sandboxId: match[2], ext: match[3] };
}
