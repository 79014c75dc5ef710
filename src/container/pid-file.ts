// --pid-file: the pid of a container's init (create) or of an exec'd process.
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Writes the pid atomically, so that a reader never sees an empty file (containerd treats its
 * existence as the end of create), and without a trailing newline (containerd parses it with
 * Atoi).
 */
export function writePidFile(file: string, pid: number): void {
  const target = path.resolve(file);
  const tmp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, String(pid));
  fs.renameSync(tmp, target);
}
