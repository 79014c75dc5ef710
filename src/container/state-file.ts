// StateFile: one container's state in the flat root directory, safe to use from many processes
// at once. It re-creates runsc's state_file.go (the seed), and fixes where runsc breaks:
//
// - saveLocked replaces the file atomically (temp file in the same directory, fsync, rename,
//   fsync of the directory): a crash at any instant leaves the old or the new state, never a
//   torn one. runsc truncates and writes in place.
// - lockForNew on an id that exists fails and leaves the existing files untouched.
// - The lock file is unlinked by destroy() while held, so a process that was waiting on it
//   holds a lock on an inode nobody else will ever lock (lxc#2587). After every flock we check
//   that the inode we locked is still linked, and otherwise open the path again (or, for an
//   existing container, report that it is gone).
// - saveLocked without the exclusive lock throws instead of writing.
// - Readers take a shared lock, so concurrent `state` calls do not queue behind each other,
//   and parse after unlocking.
// - The lock file stays open between operations of one StateFile (close() releases it), so a
//   program that reads a container repeatedly pays one flock pair per read, not an open too.
// - The root is 0700 and every file in it 0600 whatever the umask (runc's root is 0700): a
//   state names processes to signal and cgroups to kill, so nobody else may read or write one.
//   A file we read is trusted only if we own it and neither group nor others may write it
//   (assertTrustedFile): a root someone else made, or made writable, could hold a file planted to
//   make `delete --force` kill a process that is not the container's. Nothing in the root is
//   opened through a symlink (O_NOFOLLOW).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../sys/errno';
import { fileFacts, flock, flockAsync, tryFlock, LOCK_EX, LOCK_SH, LOCK_UN } from '../sys/flock';
import { log } from '../log';
import { ContainerError } from './errors';
import { baseName, parseFileName, validateId, type FullId } from './id';

export const STATE_FILE_MODE = 0o600;
export const LOCK_FILE_MODE = 0o600;
export const ROOT_DIR_MODE = 0o700;

// Files a container may own besides its lock, in the order destroy() removes them: the state
// first, so that from then on no listing shows the container.
const OWNED_EXTENSIONS = ['state', 'tmp', 'exit', 'exittmp', 'gate', 'ready', 'pids', 'pidstmp', 'spec', 'spectmp'] as const;
export type OwnedExtension = (typeof OWNED_EXTENSIONS)[number] | 'lock';

export type LockMode = 'exclusive' | 'shared';

const flockOperation = (mode: LockMode): number => (mode === 'shared' ? LOCK_SH : LOCK_EX);

const { O_RDONLY, O_CREAT, O_WRONLY, O_TRUNC, O_DIRECTORY, O_NOFOLLOW } = fs.constants;

/** A file of the root written by someone else, or that someone else may have written. */
export class UntrustedFileError extends Error {
  constructor(readonly path: string, why: string) {
    super(`${why}, so it is not trusted`);
    this.name = 'UntrustedFileError';
  }
}

/**
 * Throws UntrustedFileError unless the open file `fd` is a regular file of ours (our effective
 * uid) that neither group nor others may write: only then did we, or root, write what it says.
 */
export function assertTrustedFile(fd: number, file: string): void {
  const stat = fileFacts(fd, file);
  const euid = process.geteuid?.() ?? 0;
  if ((stat.mode & fs.constants.S_IFMT) !== fs.constants.S_IFREG) throw new UntrustedFileError(file, 'is not a regular file');
  if (stat.uid !== euid) throw new UntrustedFileError(file, `is owned by uid ${stat.uid}, not by us (uid ${euid})`);
  if ((stat.mode & 0o022) !== 0) {
    throw new UntrustedFileError(file, `is writable by ${(stat.mode & 0o020) !== 0 ? 'its group' : 'others'} (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')})`);
  }
}

export class StateFile<T = unknown> {
  readonly rootDir: string;
  readonly id: FullId;
  readonly statePath: string;
  readonly lockPath: string;
  private readonly tmpPath: string;
  /** `<root>/<cid>_sandbox:<sid>`: every file of the container is this plus an extension. */
  private readonly base: string;
  /** The open lock file, kept between operations; -1 until first needed and after close(). */
  private lockFd = -1;
  private lockMode: LockMode | null = null;
  private dirFd = -1;
  /**
   * The state file as the lock just taken found it (requireState), read by the next readState
   * instead of opening it again; closed by a save, the lock's release and close(): only a holder
   * of the exclusive lock replaces the state, so until then it is the file the path names.
   */
  private stateFd = -1;

  constructor(rootDir: string, id: FullId) {
    this.rootDir = rootDir;
    this.id = { containerId: validateId(id.containerId), sandboxId: validateId(id.sandboxId) };
    this.base = path.join(rootDir, baseName(this.id));
    this.statePath = this.pathOf('state');
    this.lockPath = this.pathOf('lock');
    this.tmpPath = this.pathOf('tmp');
  }

  /** `<root>/<cid>_sandbox:<sid>.<ext>` */
  pathOf(ext: OwnedExtension): string {
    return `${this.base}.${ext}`;
  }

  get locked(): boolean {
    return this.lockMode !== null;
  }

  get lockedExclusive(): boolean {
    return this.lockMode === 'exclusive';
  }

  /**
   * Locks an existing container, waiting for the lock: exclusive to change it, shared to read
   * it (readers do not exclude each other). ERR_CONTAINER_NOT_FOUND when it does not exist:
   * no lock file, or, once locked, no state (a create that has made the lock file but not yet
   * locked it, or one that crashed before its first save, is not a container yet).
   */
  lock(mode: LockMode = 'exclusive'): void {
    this.acquire(flockOperation(mode), false, false);
  }

  /** Like lock(), but returns false at once when another holder excludes us. */
  tryLock(mode: LockMode = 'exclusive'): boolean {
    return this.acquire(flockOperation(mode), false, true);
  }

  /** Like lock(), waiting without blocking the event loop (and off the libuv threadpool). */
  async lockAsync(mode: LockMode = 'exclusive'): Promise<void> {
    this.assertUnlocked();
    for (;;) {
      const fd = this.lockFile(false);
      await flockAsync(fd, flockOperation(mode), this.lockPath);
      if (this.keepIfCurrent(mode)) return this.requireState();
    }
  }

  /**
   * Takes the exclusive lock for a container that must not exist yet, creating the root
   * directory and the lock file as needed. Fails with ERR_CONTAINER_EXISTS, touching nothing,
   * when the id is already used (in this sandbox or another: ids are unique per root).
   */
  lockForNew(): void {
    this.assertUnlocked();
    // A root we create gets 0700 whatever the umask. An existing root keeps the mode its owner
    // gave it, as runc's (MkdirAll 0700, no chmod): it may be shared on purpose (a tmpfiles.d
    // entry, a test's directory), and it is not ours to change if someone else owns it. What
    // we read from it is checked file by file (assertTrustedFile), so a loose root can cost
    // availability (others may remove files), never let a planted file be believed.
    if (fs.mkdirSync(this.rootDir, { recursive: true, mode: ROOT_DIR_MODE }) !== undefined) {
      fs.chmodSync(this.rootDir, ROOT_DIR_MODE);
    } else {
      const mode = fs.statSync(this.rootDir).mode;
      if ((mode & 0o022) !== 0) {
        log.warn(`the state directory ${this.rootDir} is writable by ${(mode & 0o020) !== 0 ? 'its group' : 'others'} (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): they can remove containers' files`);
      }
    }
    this.acquire(LOCK_EX, true, false);
    try {
      if (fs.existsSync(this.statePath) || this.idUsedInAnotherSandbox()) {
        throw ContainerError.exists(this.id.containerId);
      }
    } catch (error) {
      this.unlock();
      throw error;
    }
  }

  /** Releases the lock; the lock file stays open for the next operation until close(). */
  unlock(): void {
    this.dropStateFd();
    if (this.lockMode === null) return;
    this.lockMode = null;
    try {
      flock(this.lockFd, LOCK_UN, this.lockPath);
    } catch (error) {
      this.closeLockFile(); // closing releases the lock whatever went wrong
      throw error;
    }
  }

  /**
   * Replaces the state atomically. Precondition: the exclusive lock is held (lock() or
   * lockForNew()).
   */
  saveLocked(value: T): void {
    if (this.lockMode !== 'exclusive') {
      throw new ContainerError('ERR_STATE_NOT_LOCKED',
        `refusing to save the state of container ${JSON.stringify(this.id.containerId)} without holding its lock`,
        { containerId: this.id.containerId });
    }
    this.dropStateFd();
    this.replaceLocked(this.tmpPath, this.statePath, JSON.stringify(value), true);
  }

  /**
   * Replaces one of the container's side files (`ext`) atomically through its temp file
   * (`tmpExt`), 0600. Precondition: the exclusive lock is held.
   */
  saveSideFileLocked(ext: OwnedExtension, tmpExt: OwnedExtension, data: string): void {
    if (this.lockMode !== 'exclusive') {
      throw new ContainerError('ERR_STATE_NOT_LOCKED',
        `refusing to write the ${ext} file of container ${JSON.stringify(this.id.containerId)} without holding its lock`,
        { containerId: this.id.containerId });
    }
    this.replaceLocked(this.pathOf(tmpExt), this.pathOf(ext), data, false);
  }

  /**
   * The text of one of the container's side files, null when there is none. Throws
   * UntrustedFileError when the file is not ours alone to write (assertTrustedFile), or is a
   * symlink.
   */
  readSideFile(ext: OwnedExtension): string | null {
    const file = this.pathOf(ext);
    let fd: number;
    try {
      fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      if (isErrno(error, 'ELOOP')) throw new UntrustedFileError(file, 'is a symlink');
      throw error;
    }
    try {
      assertTrustedFile(fd, file);
      return readAll(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  // Writes `data` to `tmp` and renames it over `file`. Only the holder of the exclusive lock
  // writes, so the fixed temp name cannot collide (one left by a crash is truncated here, or
  // removed by destroy()), and it is not guessable by anyone who matters: the root is 0700, so
  // only we (and root) can plant anything in it. A root someone else made writable is the one
  // case left, and there O_NOFOLLOW refuses a symlink planted at the temp name (ELOOP) rather
  // than write through it.
  private replaceLocked(tmp: string, file: string, data: string, durable: boolean): void {
    const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, STATE_FILE_MODE);
    try {
      fs.fchmodSync(fd, STATE_FILE_MODE); // independent of the caller's umask
      fs.writeFileSync(fd, data);
      if (durable) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    if (durable) fs.fsyncSync(this.directoryFd()); // makes the rename itself durable
  }

  /**
   * Reads the saved state. Under the caller's lock if it holds one; otherwise under a shared
   * lock taken and released here. Throws ERR_CONTAINER_NOT_FOUND when there is no state and
   * ERR_STATE_CORRUPT when it does not parse.
   */
  load(): T {
    if (this.locked) return this.parse(this.readState());
    this.lock('shared');
    let text: string;
    try {
      text = this.readState();
    } finally {
      this.unlock();
    }
    return this.parse(text);
  }

  /**
   * The last saved state, read without taking the lock. Saves replace the file atomically, so
   * this is always one complete state; and it never waits behind a holder, so one container
   * whose lock is held for long cannot stall a listing of all of them (podman#658).
   */
  peek(): T {
    return this.parse(this.readState());
  }

  /**
   * Removes every file of the container: state first, lock last, then releases the lock.
   * Precondition: the exclusive lock is held. Processes waiting on the lock see that it is
   * gone (see keepIfCurrent) instead of locking a dead inode.
   */
  destroy(): void {
    if (this.lockMode !== 'exclusive') {
      throw new ContainerError('ERR_STATE_NOT_LOCKED',
        `refusing to remove the files of container ${JSON.stringify(this.id.containerId)} without holding its lock`,
        { containerId: this.id.containerId });
    }
    this.dropStateFd();
    try {
      for (const ext of OWNED_EXTENSIONS) unlinkIfPresent(this.pathOf(ext));
      unlinkIfPresent(this.lockPath);
    } finally {
      this.lockMode = null;
      this.closeLockFile(); // its inode is gone: nothing left to lock
    }
  }

  /** Releases the lock if held and every descriptor. Safe to call more than once. */
  close(): void {
    this.lockMode = null;
    this.dropStateFd();
    this.closeLockFile();
    if (this.dirFd !== -1) {
      fs.closeSync(this.dirFd);
      this.dirFd = -1;
    }
  }

  /** Every container in the root directory, from the names of the state files. */
  static list(rootDir: string): FullId[] {
    let names: string[];
    try {
      names = fs.readdirSync(rootDir);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
    const ids: FullId[] = [];
    for (const name of names) {
      // Six in seven names are a container's other files: only a state file names a container.
      if (!name.endsWith('.state')) continue;
      const parsed = parseFileName(name);
      if (parsed !== null && parsed.ext === 'state') {
        ids.push({ containerId: parsed.containerId, sandboxId: parsed.sandboxId });
      }
    }
    return ids;
  }

  /**
   * Removes what a create killed before its first complete save left of a container id: a
   * lock file, a half-written temp file. Each is removed under its lock, and only while there
   * is still no state file (a create that got further is a container, not debris).
   */
  static removeLeftovers(rootDir: string, containerId: string): void {
    validateId(containerId);
    let names: string[];
    try {
      names = fs.readdirSync(rootDir);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      throw error;
    }
    const sandboxes = new Set<string>();
    for (const name of names) {
      const parsed = parseFileName(name);
      if (parsed !== null && parsed.containerId === containerId) sandboxes.add(parsed.sandboxId);
    }
    for (const sandboxId of sandboxes) {
      const file = new StateFile(rootDir, { containerId, sandboxId });
      try {
        file.lockForNew();
        file.destroy();
      } catch (error) {
        if (!(error instanceof ContainerError && error.code === 'ERR_CONTAINER_EXISTS')) throw error;
      } finally {
        file.close();
      }
    }
  }

  /** The containers of one sandbox: exactly that sandbox id, never a prefix of it. */
  static listSandbox(rootDir: string, sandboxId: string): FullId[] {
    validateId(sandboxId);
    return StateFile.list(rootDir).filter((id) => id.sandboxId === sandboxId);
  }

  /**
   * The container a user-given id names: the container with exactly that id if there is one
   * (runsc calls "q" ambiguous when "q1" exists), else the one container whose id starts with
   * it. Several candidates: ERR_AMBIGUOUS_ID naming them; none: ERR_CONTAINER_NOT_FOUND.
   */
  static resolve(rootDir: string, partialId: string): FullId {
    validateId(partialId);
    const ids = StateFile.list(rootDir);
    const exact = ids.filter((id) => id.containerId === partialId);
    const matches = exact.length > 0 ? exact : ids.filter((id) => id.containerId.startsWith(partialId));
    if (matches.length === 1) {
      if (exact.length === 0) log.debug(`abbreviated id "${partialId}" resolves to "${matches[0].containerId}"`);
      return matches[0];
    }
    if (matches.length === 0) throw ContainerError.notFound(partialId);
    // The same id in two sandboxes only comes from files made by hand or by another runtime.
    const names = exact.length > 1
      ? exact.map((id) => `${id.containerId} (sandbox ${id.sandboxId})`)
      : matches.map((id) => id.containerId);
    throw ContainerError.ambiguous(partialId, names.sort());
  }

  // Flocks the lock file until the lock is held on a lock file that is still in place.
  // Returns false only for a try-lock that found the lock held.
  private acquire(operation: number, create: boolean, nonBlocking: boolean): boolean {
    this.assertUnlocked();
    for (;;) {
      const fd = this.lockFile(create);
      if (nonBlocking) {
        if (!tryFlock(fd, operation, this.lockPath)) return false;
      } else {
        flock(fd, operation, this.lockPath);
      }
      if (!this.keepIfCurrent(operation === LOCK_SH ? 'shared' : 'exclusive')) continue;
      if (!create) this.requireState();
      return true;
    }
  }

  // The race: a waiter woken by destroy() opens the path again and may flock the fresh lock
  // file of a new container of the same id in the instant between that creator's open(O_CREAT)
  // and its flock. It holds a lock, but on a container that does not exist yet.
  // The state is opened here (one open instead of an existence check and then an open) and kept
  // for the read that follows; a state that cannot be opened for another reason than its absence
  // (a symlink planted there) is left to that read, which names what is wrong with it.
  private requireState(): void {
    let fd: number;
    try {
      fd = fs.openSync(this.statePath, O_RDONLY | O_NOFOLLOW);
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) return;
      this.unlock();
      throw ContainerError.notFound(this.id.containerId);
    }
    this.dropStateFd();
    this.stateFd = fd;
  }

  private dropStateFd(): void {
    if (this.stateFd === -1) return;
    const fd = this.stateFd;
    this.stateFd = -1;
    fs.closeSync(fd);
  }

  private lockFile(create: boolean): number {
    if (this.lockFd !== -1) return this.lockFd;
    try {
      this.lockFd = fs.openSync(this.lockPath, (create ? O_RDONLY | O_CREAT : O_RDONLY) | O_NOFOLLOW, LOCK_FILE_MODE);
    } catch (error) {
      if (!create && isErrno(error, 'ENOENT')) throw ContainerError.notFound(this.id.containerId, error);
      throw error;
    }
    // 0600 whatever the umask; a lock file someone else made is left as it is (its content is
    // never read: only the lock on it counts).
    if (create) {
      const stat = fs.fstatSync(this.lockFd);
      if ((stat.mode & 0o777) !== LOCK_FILE_MODE && stat.uid === (process.geteuid?.() ?? 0)) fs.fchmodSync(this.lockFd, LOCK_FILE_MODE);
    }
    return this.lockFd;
  }

  private closeLockFile(): void {
    if (this.lockFd === -1) return;
    const fd = this.lockFd;
    this.lockFd = -1;
    fs.closeSync(fd);
  }

  // The race: while we waited in flock (or while our lock file stayed open between two
  // operations), the holder destroyed the container and unlinked the lock file; perhaps a new
  // container of the same id even created a fresh one. Our lock is then on an inode nobody else
  // will lock. Lock files are only ever created at their path and unlinked, never renamed or
  // linked elsewhere, so "still linked" means "still the file the path names". If it is not,
  // close it and let the caller open the path again.
  private keepIfCurrent(mode: LockMode): boolean {
    if (fileFacts(this.lockFd, this.lockPath).nlink > 0) {
      this.lockMode = mode;
      return true;
    }
    this.closeLockFile();
    log.debug(`lock file ${this.lockPath} was removed while we held it open; opening it again`);
    return false;
  }

  private readState(): string {
    let fd = this.stateFd;
    this.stateFd = -1;
    try {
      if (fd === -1) fd = fs.openSync(this.statePath, O_RDONLY | O_NOFOLLOW);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw ContainerError.notFound(this.id.containerId, error);
      if (isErrno(error, 'ELOOP')) throw ContainerError.corrupt(this.id.containerId, this.statePath, new UntrustedFileError(this.statePath, 'is a symlink'));
      throw error;
    }
    try {
      // The state names the processes every command signals and the cgroup it kills.
      try {
        assertTrustedFile(fd, this.statePath);
      } catch (error) {
        if (error instanceof UntrustedFileError) throw ContainerError.corrupt(this.id.containerId, this.statePath, error);
        throw error;
      }
      return readAll(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  private parse(text: string): T {
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw ContainerError.corrupt(this.id.containerId, this.statePath, error);
    }
  }

  private idUsedInAnotherSandbox(): boolean {
    return StateFile.list(this.rootDir).some(
      (id) => id.containerId === this.id.containerId && id.sandboxId !== this.id.sandboxId);
  }

  private directoryFd(): number {
    if (this.dirFd === -1) this.dirFd = fs.openSync(this.rootDir, O_RDONLY | O_DIRECTORY);
    return this.dirFd;
  }

  private assertUnlocked(): void {
    if (this.lockMode !== null) {
      throw new Error(`StateFile of container "${this.id.containerId}" is already locked by this object`);
    }
  }
}

// One buffer for every read of this process: a state file is read in one read(2) into it
// (readFileSync would fstat first and allocate each time).
let readBuffer = Buffer.allocUnsafe(64 * 1024);

// Reads a regular file to its end. A read that returns less than it asked for has reached the
// end: files here are only ever replaced whole by a rename, never written in place, so no
// second read(2) is needed to see end of file (one system call of every load: ~0.6 µs).
function readAll(fd: number): string {
  let length = 0;
  for (;;) {
    if (length === readBuffer.length) {
      const bigger = Buffer.allocUnsafe(readBuffer.length * 2);
      readBuffer.copy(bigger, 0, 0, length);
      readBuffer = bigger;
    }
    const wanted = readBuffer.length - length;
    const n = fs.readSync(fd, readBuffer, length, wanted, null);
    length += n;
    if (n < wanted) return readBuffer.toString('utf8', 0, length);
  }
}

function unlinkIfPresent(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
}
