import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Container, ContainerError, setLogger, StateFile, UntrustedFileError, type ContainerRecord } from '../../src';
import { tempDir } from '../helpers/env';
import { LOCK_EX, tryFlock } from '../../src/sys/flock';
import { makeRecord, statePath, writeContainer } from '../helpers/records';

let dir: string;
let root: string;
const open: StateFile[] = [];

function stateFile(containerId: string, sandboxId = containerId): StateFile<ContainerRecord> {
  const file = new StateFile<ContainerRecord>(root, { containerId, sandboxId });
  open.push(file);
  return file;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as ContainerError).code;
  }
  return undefined;
}

function snapshot(file: string) {
  const stat = fs.statSync(file);
  return { ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs, mode: stat.mode, data: fs.readFileSync(file, 'utf8') };
}

beforeEach(() => {
  dir = tempDir();
  root = path.join(dir, 'root');
});

afterEach(() => {
  for (const file of open.splice(0)) file.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('StateFile', () => {
  for (const umask of [0o000, 0o077, 0o277]) {
    it(`creates the root 0700 and every file in it 0600 under umask ${umask.toString(8).padStart(3, '0')}, named <cid>_sandbox:<sid>`, () => {
      const file = stateFile('c1', 'pod');
      const previous = process.umask(umask); // the modes must not depend on the caller's umask
      try {
        file.lockForNew();
        file.saveLocked(makeRecord('c1', { sandboxId: 'pod' }));
        file.saveSideFileLocked('pids', 'pidstmp', '{}');
        file.saveSideFileLocked('spec', 'spectmp', '{}');
      } finally {
        process.umask(previous);
      }
      file.unlock();
      expect(fs.statSync(root).mode & 0o777).toBe(0o700);
      expect(fs.readdirSync(root).sort()).toEqual(['c1_sandbox:pod.lock', 'c1_sandbox:pod.pids', 'c1_sandbox:pod.spec', 'c1_sandbox:pod.state']);
      for (const name of fs.readdirSync(root)) expect([name, fs.statSync(path.join(root, name)).mode & 0o777]).toEqual([name, 0o600]);
    });
  }

  it('keeps the mode of a root that exists, and warns when others may write to it', () => {
    fs.mkdirSync(root, { mode: 0o755 });
    fs.chmodSync(root, 0o777);
    const warnings: string[] = [];
    setLogger({ warn: (m) => warnings.push(m), debug: () => {} });
    try {
      stateFile('c1').lockForNew();
    } finally {
      setLogger(null);
    }
    expect(fs.statSync(root).mode & 0o777).toBe(0o777);
    expect(warnings).toEqual([`the state directory ${root} is writable by its group (mode 0777): they can remove containers' files`]);
  });

  it('never writes through a symlink planted at a temp name, nor reads a state, a side file or takes a lock through one', () => {
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'precious');
    const file = stateFile('c1');
    file.lockForNew();
    file.saveLocked(makeRecord('c1'));
    for (const ext of ['tmp', 'pidstmp'] as const) fs.symlinkSync(victim, file.pathOf(ext));
    expect(() => file.saveLocked(makeRecord('c1'))).toThrow(/ELOOP/);
    expect(() => file.saveSideFileLocked('pids', 'pidstmp', '{}')).toThrow(/ELOOP/);
    file.destroy();
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');

    const other = stateFile('c2');
    other.lockForNew();
    other.saveLocked(makeRecord('c2'));
    other.unlock();
    other.close();
    fs.renameSync(other.statePath, path.join(dir, 'c2.state'));
    fs.symlinkSync(path.join(dir, 'c2.state'), other.statePath);
    fs.symlinkSync(victim, other.pathOf('pids'));
    expect(codeOf(() => other.load())).toBe('ERR_STATE_CORRUPT');
    expect(() => other.readSideFile('pids')).toThrow(UntrustedFileError);
    fs.unlinkSync(other.lockPath);
    fs.symlinkSync(path.join(dir, 'nowhere.lock'), other.lockPath);
    expect(() => other.lock()).toThrow(/ELOOP/);
    expect(fs.existsSync(path.join(dir, 'nowhere.lock'))).toBe(false);
  });

  it('trusts a state or side file only if it is ours and neither group nor others may write it', () => {
    const file = stateFile('c1');
    file.lockForNew();
    file.saveLocked(makeRecord('c1'));
    file.saveSideFileLocked('pids', 'pidstmp', '{"init":null}');
    file.unlock();
    expect(file.readSideFile('pids')).toBe('{"init":null}');
    expect(file.readSideFile('exit')).toBeNull(); // none: nothing to trust or distrust
    fs.chmodSync(file.pathOf('pids'), 0o644); // older runcell's modes are still believed
    fs.chmodSync(file.statePath, 0o640);
    expect(file.readSideFile('pids')).toBe('{"init":null}');
    expect(file.load()).toMatchObject({ id: 'c1' });
    fs.chmodSync(file.pathOf('pids'), 0o666);
    expect(() => file.readSideFile('pids')).toThrow(`is writable by its group (mode 0666), so it is not trusted`);
    fs.chmodSync(file.pathOf('pids'), 0o602);
    expect(() => file.readSideFile('pids')).toThrow(`is writable by others (mode 0602), so it is not trusted`);
    fs.chmodSync(file.statePath, 0o620);
    expect(() => file.load()).toThrow(`state file of container "c1" is damaged: '${file.statePath}': is writable by its group (mode 0620), so it is not trusted`);
    fs.chmodSync(file.statePath, 0o600);
    if (process.geteuid?.() === 0) {
      fs.chownSync(file.statePath, 65534, 65534);
      expect(() => file.load()).toThrow('is owned by uid 65534, not by us (uid 0), so it is not trusted');
      expect(Container.list(root).damaged.map((d) => d.id.containerId)).toEqual(['c1']);
    }
  });

  it('loads what was saved, with or without holding the lock', () => {
    const file = stateFile('c1');
    file.lockForNew();
    const record = makeRecord('c1', { status: 'created', annotations: { a: 'b' } });
    file.saveLocked(record);
    expect(file.load()).toEqual(record); // under our own exclusive lock
    file.unlock();
    expect(stateFile('c1').load()).toEqual(record); // under a shared lock of its own
    record.status = 'running';
    file.lock();
    file.saveLocked(record);
    file.unlock();
    expect(stateFile('c1').load().status).toBe('running');
  });

  it('a load under a lock reads the state as it is then: saved after the lock was taken, or by another holder in between', () => {
    const file = stateFile('c1');
    file.lockForNew();
    const record = makeRecord('c1', { status: 'created' });
    file.saveLocked(record);
    file.unlock();
    file.lock(); // finds the state, and keeps it open for the load
    file.saveLocked({ ...record, status: 'running' });
    expect(file.load().status).toBe('running');
    file.unlock();
    file.lock('shared');
    file.unlock(); // taken and released without a load
    const other = stateFile('c1');
    other.lock();
    other.saveLocked({ ...record, status: 'stopped' });
    other.unlock();
    file.lock('shared');
    expect(file.load().status).toBe('stopped');
    file.unlock();
  });

  it('leaves no descriptor open after locks taken and released, with or without a load', () => {
    const file = stateFile('c1');
    file.lockForNew();
    file.saveLocked(makeRecord('c1'));
    file.unlock();
    const before = fs.readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 50; i++) {
      file.lock(i % 2 === 0 ? 'shared' : 'exclusive');
      if (i % 3 === 0) file.load();
      if (i % 2 === 1 && i % 5 === 1) file.saveLocked(makeRecord('c1'));
      file.unlock();
    }
    file.lock();
    file.close(); // released with the state still held open for a load
    expect(fs.readdirSync('/proc/self/fd').length).toBeLessThan(before);
  });

  it('lockForNew on an existing id fails and leaves its files untouched', () => {
    writeContainer(root, makeRecord('web', { status: 'running' }));
    const before = {
      state: snapshot(path.join(root, 'web_sandbox:web.state')),
      lock: snapshot(path.join(root, 'web_sandbox:web.lock')),
    };
    const duplicate = stateFile('web');
    expect(() => duplicate.lockForNew()).toThrow('container "web" already exists');
    expect(codeOf(() => stateFile('web').lockForNew())).toBe('ERR_CONTAINER_EXISTS');
    expect(duplicate.locked).toBe(false);
    expect(snapshot(path.join(root, 'web_sandbox:web.state'))).toEqual(before.state);
    expect(snapshot(path.join(root, 'web_sandbox:web.lock'))).toEqual(before.lock);
    expect(stateFile('web').load().status).toBe('running');
  });

  it('keeps ids unique across sandboxes', () => {
    writeContainer(root, makeRecord('app', { sandboxId: 'pod1' }));
    expect(codeOf(() => stateFile('app', 'pod2').lockForNew())).toBe('ERR_CONTAINER_EXISTS');
  });

  it('refuses to save or destroy without the exclusive lock, writing nothing', () => {
    writeContainer(root, makeRecord('c1', { status: 'created' }));
    const before = snapshot(path.join(root, 'c1_sandbox:c1.state'));
    const file = stateFile('c1');
    expect(() => file.saveLocked(makeRecord('c1', { status: 'running' }))).toThrow(/without holding its lock/);
    expect(codeOf(() => file.saveLocked(makeRecord('c1')))).toBe('ERR_STATE_NOT_LOCKED');
    expect(codeOf(() => file.destroy())).toBe('ERR_STATE_NOT_LOCKED');
    expect(snapshot(path.join(root, 'c1_sandbox:c1.state'))).toEqual(before);
    expect(fs.readdirSync(root).sort()).toEqual(['c1_sandbox:c1.lock', 'c1_sandbox:c1.state']);
  });

  it('destroy removes every file of the container, leftovers of a crash included', () => {
    const id = writeContainer(root, makeRecord('c1'));
    fs.writeFileSync(path.join(root, 'c1_sandbox:c1.tmp'), '{"half":');
    fs.writeFileSync(path.join(root, 'c1_sandbox:c1.exit'), '{}');
    writeContainer(root, makeRecord('c2'));
    const file = stateFile('c1');
    file.lock();
    file.destroy();
    expect(file.locked).toBe(false);
    expect(fs.existsSync(statePath(root, id))).toBe(false);
    expect(fs.readdirSync(root).sort()).toEqual(['c2_sandbox:c2.lock', 'c2_sandbox:c2.state']);
    expect(codeOf(() => stateFile('c1').load())).toBe('ERR_CONTAINER_NOT_FOUND');
  });

  it('lock() of a container that does not exist is not found and creates no file', () => {
    fs.mkdirSync(root);
    expect(codeOf(() => stateFile('ghost').lock())).toBe('ERR_CONTAINER_NOT_FOUND');
    expect(codeOf(() => stateFile('ghost').load())).toBe('ERR_CONTAINER_NOT_FOUND');
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('a lock file without a state is no container yet: every lock of an existing one is not found and leaves it unlocked', async () => {
    // What a waiter meets when it opens a new container's lock file between the creator's
    // open(O_CREAT) and its flock, or after a create that crashed before its first save.
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'c1_sandbox:c1.lock'), '');
    expect(codeOf(() => stateFile('c1').lock())).toBe('ERR_CONTAINER_NOT_FOUND');
    expect(codeOf(() => stateFile('c1').tryLock('shared'))).toBe('ERR_CONTAINER_NOT_FOUND');
    await expect(stateFile('c1').lockAsync()).rejects.toMatchObject({ code: 'ERR_CONTAINER_NOT_FOUND' });
    // None of them kept the lock; the creator gets it, and once it has saved, the container is found.
    const fd = fs.openSync(path.join(root, 'c1_sandbox:c1.lock'), 'r');
    expect(tryFlock(fd, LOCK_EX)).toBe(true);
    fs.closeSync(fd);
    const creator = stateFile('c1');
    creator.lockForNew();
    creator.saveLocked(makeRecord('c1'));
    creator.unlock();
    expect(stateFile('c1').tryLock('shared')).toBe(true);
  });

  it('tryLock reports a held lock as false, and lockAsync waits for it', async () => {
    writeContainer(root, makeRecord('c1'));
    const holder = stateFile('c1');
    holder.lock();
    const other = stateFile('c1');
    expect(other.tryLock()).toBe(false);
    let acquired = false;
    const waiting = stateFile('c1').lockAsync().then(() => (acquired = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(acquired).toBe(false);
    holder.unlock();
    await waiting;
    expect(acquired).toBe(true);
    expect(other.tryLock()).toBe(false);
  });

  it('reports a damaged state file as ERR_STATE_CORRUPT naming the file', () => {
    const id = writeContainer(root, makeRecord('c1'));
    fs.writeFileSync(statePath(root, id), '{"version":1,"id":"c');
    expect(() => stateFile('c1').load()).toThrow(`state file of container "c1" is damaged: '${statePath(root, id)}'`);
    expect(codeOf(() => stateFile('c1').load())).toBe('ERR_STATE_CORRUPT');
  });
});

describe('leftovers of a create killed before its first save', () => {
  it('are removed for that id only, and never while a state exists', () => {
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'gone_sandbox:gone.lock'), '');
    fs.writeFileSync(path.join(root, 'gone_sandbox:gone.tmp'), '{"half":');
    writeContainer(root, makeRecord('alive'));
    fs.writeFileSync(path.join(root, 'alive_sandbox:alive.tmp'), '{"half":');
    StateFile.removeLeftovers(root, 'gone');
    StateFile.removeLeftovers(root, 'alive');
    expect(fs.readdirSync(root).sort()).toEqual(['alive_sandbox:alive.lock', 'alive_sandbox:alive.state', 'alive_sandbox:alive.tmp']);
  });
});

describe('listing and ids', () => {
  it('lists by state file names, and a sandbox by its exact id (not a prefix)', () => {
    writeContainer(root, makeRecord('sb', { sandboxId: 'sb' }));
    writeContainer(root, makeRecord('sbc', { sandboxId: 'sb' }));
    writeContainer(root, makeRecord('sb2', { sandboxId: 'sb2' }));
    fs.writeFileSync(path.join(root, 'junk'), '');
    fs.mkdirSync(path.join(root, 'somedir_sandbox:x.state'));
    fs.writeFileSync(path.join(root, 'orphan_sandbox:orphan.lock'), '');
    fs.writeFileSync(path.join(root, 'half_sandbox:half.tmp'), '');
    const key = (ids: { containerId: string; sandboxId: string }[]) => ids.map((i) => `${i.containerId}@${i.sandboxId}`).sort();
    expect(key(StateFile.list(root))).toEqual(['sb2@sb2', 'sb@sb', 'sbc@sb', 'somedir@x']);
    expect(key(StateFile.listSandbox(root, 'sb'))).toEqual(['sb@sb', 'sbc@sb']);
    expect(StateFile.list(path.join(dir, 'missing'))).toEqual([]);
  });

  it('resolves exact ids first, then unique prefixes', () => {
    for (const id of ['q', 'q1', 'foo-1', 'bar-1', 'baz-1']) writeContainer(root, makeRecord(id));
    expect(StateFile.resolve(root, 'q').containerId).toBe('q'); // runsc: ambiguous
    expect(StateFile.resolve(root, 'q1').containerId).toBe('q1');
    expect(StateFile.resolve(root, 'f').containerId).toBe('foo-1');
    expect(StateFile.resolve(root, 'bar').containerId).toBe('bar-1');
    expect(() => StateFile.resolve(root, 'ba')).toThrow('container id "ba" is ambiguous: it could refer to "bar-1", "baz-1"');
    expect(codeOf(() => StateFile.resolve(root, 'ba'))).toBe('ERR_AMBIGUOUS_ID');
    expect(codeOf(() => StateFile.resolve(root, 'nope'))).toBe('ERR_CONTAINER_NOT_FOUND');
    // Never a glob: runsc resolves '*' to whatever single container there is.
    expect(codeOf(() => StateFile.resolve(root, '*'))).toBe('ERR_INVALID_ID');
  });

  it('names both sandboxes when one id was made in two of them by hand', () => {
    writeContainer(root, makeRecord('dup', { sandboxId: 'p1' }));
    fs.copyFileSync(path.join(root, 'dup_sandbox:p1.state'), path.join(root, 'dup_sandbox:p2.state'));
    expect(() => StateFile.resolve(root, 'dup')).toThrow('"dup (sandbox p1)", "dup (sandbox p2)"');
  });

  it('Container.list skips damaged state files, reports them in debug, and shows the others', () => {
    writeContainer(root, makeRecord('good1'));
    const bad = writeContainer(root, makeRecord('bad'));
    writeContainer(root, makeRecord('good2'));
    const wrong = writeContainer(root, makeRecord('wrong'));
    fs.truncateSync(statePath(root, bad), 0);
    fs.writeFileSync(statePath(root, wrong), JSON.stringify(makeRecord('other')));
    const debug: string[] = [];
    setLogger({ debug: (m) => debug.push(m), warn: () => {} });
    try {
      const { containers, damaged } = Container.list(root);
      expect(containers.map((c) => c.id)).toEqual(['good1', 'good2']);
      expect(damaged.map((d) => d.id.containerId).sort()).toEqual(['bad', 'wrong']);
      expect(debug.join('\n')).toMatch(/skipping container "bad".*damaged/);
      expect(debug.join('\n')).toMatch(/skipping container "wrong".*names container "other"/);
    } finally {
      setLogger(null);
    }
  });
});
