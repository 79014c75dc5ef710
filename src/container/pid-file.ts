// --pid-file: the pid of a container's init (create) or of an exec'd process.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

// libuv adds O_CLOEXEC to every open.
const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;

/**
 * Writes the pid atomically, so that a reader never sees an empty file (containerd treats its
 * existence as the end of create), and without a trailing newline (containerd parses it with
 * Atoi).
 *
 * The pid file's directory may be writable by others (/tmp, a shared run directory): the temp
 * file has a name nobody can guess and is created with O_EXCL | O_NOFOLLOW, so a symlink planted
 * in advance cannot make us write through it, and rename(2) replaces whatever the target name is,
 * a symlink included, without following it. runc writes `.<name>` with O_EXCL and renames it
 * over the target the same way; its fixed name lets anyone who plants it first make create fail.
 */
export function writePidFile(file: string, pid: number): void {
  const target = path.resolve(file);
  // Hidden, and short enough for NAME_MAX whatever the target's name.
  const tmp = path.join(path.dirname(target), `.${path.basename(target).slice(0, 200)}.${randomBytes(8).toString('hex')}.tmp`);
  // 0666 less the umask, as runc and as the file was before: conmon and shims read it.
  const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o666);
  try {
    try {
      fs.writeFileSync(fd, String(pid));
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (error) {
    fs.rmSync(tmp, { force: true });
    throw error;
  }
}
