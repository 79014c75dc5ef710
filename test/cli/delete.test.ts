import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../src';
import { isRoot, livePool, runcell, useScratchRoot } from '../helpers/env';
import { makeRecord, statePath, writeContainer } from '../helpers/records';

let root: string;
const pool = livePool();
const live = () => pool.live();
useScratchRoot((_dir, r) => {
  root = r;
});
afterEach(() => pool.killAll());

describe('runcell delete', () => {
  it('deletes a stopped container and every file it owns', async () => {
    writeContainer(root, makeRecord('done'));
    fs.writeFileSync(path.join(root, 'done_sandbox:done.exit'), '{"status":0}');
    writeContainer(root, makeRecord('other'));
    const result = await runcell(['--root', root, 'delete', 'done']);
    expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(fs.readdirSync(root).sort()).toEqual(['other_sandbox:other.lock', 'other_sandbox:other.state']);
  });

  it('refuses a running container without --force and leaves it alone', async () => {
    const init = live();
    const id = writeContainer(root, makeRecord('web', { status: 'running', init }));
    const before = fs.readFileSync(statePath(root, id), 'utf8');
    const result = await runcell(['--root', root, 'delete', 'web']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('runcell: cannot delete container "web" in state running\n');
    expect(fs.readFileSync(statePath(root, id), 'utf8')).toBe(before);
    expect(isProcessAlive(init.pid, init.startTime)).toBe(true);
  });

  it('--force kills the recorded processes that are still ours and removes the container', async () => {
    const init = live();
    const gofer = live();
    writeContainer(root, makeRecord('web', { status: 'running', init, gofer }));
    const result = await runcell(['--root', root, 'delete', '--force', 'web']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(isProcessAlive(init.pid, init.startTime)).toBe(false);
    expect(isProcessAlive(gofer.pid, gofer.startTime)).toBe(false);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('never signals a pid that now belongs to another process', async () => {
    const bystander = live();
    writeContainer(root, makeRecord('old', { status: 'running', init: { pid: bystander.pid, startTime: bystander.startTime - 1 } }));
    expect((await runcell(['--root', root, 'delete', 'old'])).code).toBe(0); // observed stopped
    expect(isProcessAlive(bystander.pid, bystander.startTime)).toBe(true);
  });

  it('--force succeeds for an unknown id; without it the error says "does not exist"', async () => {
    fs.mkdirSync(root);
    expect(await runcell(['--root', root, 'delete', '--force', 'ghost'])).toMatchObject({ code: 0, stderr: '' });
    expect(await runcell(['--root', root, 'delete', 'ghost'])).toMatchObject({
      code: 1, stderr: 'runcell: container "ghost" does not exist\n',
    });
  });

  it('--force removes a container whose state file is damaged; plain delete refuses', async () => {
    const id = writeContainer(root, makeRecord('torn'));
    fs.writeFileSync(statePath(root, id), '{"version":1,"st');
    const plain = await runcell(['--root', root, 'delete', 'torn']);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^runcell: state file of container "torn" is damaged/);
    expect(fs.existsSync(statePath(root, id))).toBe(true);
    const forced = await runcell(['--root', root, 'delete', '-f', 'torn']);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(/level=warning msg=".*damaged.*removing the container's files anyway"/);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('goes on past ids that fail, reports each, and exits 1', async () => {
    writeContainer(root, makeRecord('a'));
    writeContainer(root, makeRecord('c'));
    const result = await runcell(['--root', root, 'delete', 'a', 'missing', 'c']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('runcell: container "missing" does not exist\n');
    expect(fs.readdirSync(root)).toEqual([]);
  });

  // A damaged state leaves delete --force with the .pids side file to go by: it kills what that
  // names. A file someone else could have written must not make it kill anything.
  describe('--force with a damaged state and the .pids side file', () => {
    function damagedWithPids(id: string, pids: object, mode = 0o600): string {
      const full = writeContainer(root, makeRecord(id));
      fs.writeFileSync(statePath(root, full), '{"version":1,"st');
      const file = path.join(root, `${id}_sandbox:${id}.pids`);
      fs.writeFileSync(file, JSON.stringify(pids), { mode });
      fs.chmodSync(file, mode);
      return file;
    }

    it('kills the processes it names when it is ours alone to write, and only while their start time matches', async () => {
      const init = live();
      const reused = live();
      damagedWithPids('torn', { init, gofer: { pid: reused.pid, startTime: reused.startTime - 1 } });
      const result = await runcell(['--root', root, 'delete', '-f', 'torn']);
      expect(result.code).toBe(0);
      expect(isProcessAlive(init.pid, init.startTime)).toBe(false);
      expect(isProcessAlive(reused.pid, reused.startTime)).toBe(true); // a pid now someone else's
      expect(fs.readdirSync(root)).toEqual([]);
    });

    for (const mode of [0o666, 0o620, 0o602]) {
      it(`ignores one writable by others (mode ${mode.toString(8)}) with a warning, kills nothing it names, and removes the container`, async () => {
        const bystander = live();
        const file = damagedWithPids('torn', { init: bystander, gofer: bystander, cgroupPath: '/' }, mode);
        const result = await runcell(['--root', root, 'delete', '-f', 'torn']);
        expect(result.code).toBe(0);
        expect(result.stderr).toContain(`ignoring '${file}': is writable by`);
        expect(result.stderr).toContain('so it is not trusted');
        expect(isProcessAlive(bystander.pid, bystander.startTime)).toBe(true);
        expect(fs.readdirSync(root)).toEqual([]);
      });
    }

    it.skipIf(!isRoot)(`ignores one owned by another user${isRoot ? '' : ' (skipped: chown needs root)'}`, async () => {
      const bystander = live();
      const file = damagedWithPids('torn', { init: bystander, gofer: null });
      fs.chownSync(file, 65534, 65534);
      const result = await runcell(['--root', root, 'delete', '-f', 'torn']);
      expect(result.code).toBe(0);
      expect(result.stderr).toContain(`ignoring '${file}': is owned by uid 65534, not by us (uid 0), so it is not trusted`);
      expect(isProcessAlive(bystander.pid, bystander.startTime)).toBe(true);
      expect(fs.readdirSync(root)).toEqual([]);
    });

    it('ignores one that is a symlink, or not what create writes', async () => {
      const bystander = live();
      const elsewhere = path.join(root, '..', 'elsewhere.json');
      fs.writeFileSync(elsewhere, JSON.stringify({ init: bystander, gofer: null }), { mode: 0o600 });
      const file = damagedWithPids('torn', {});
      fs.rmSync(file);
      fs.symlinkSync(elsewhere, file);
      expect((await runcell(['--root', root, 'delete', '-f', 'torn'])).stderr).toContain(`ignoring '${file}': is a symlink`);
      damagedWithPids('torn2', { init: { pid: bystander.pid }, gofer: null });
      expect((await runcell(['--root', root, 'delete', '-f', 'torn2'])).stderr).toContain('it is not what create writes there');
      expect(isProcessAlive(bystander.pid, bystander.startTime)).toBe(true);
      expect(fs.readdirSync(root)).toEqual([]);
    });
  });

  it('--force does not believe a state file others may write: it kills nothing it names', async () => {
    const bystander = live();
    const id = writeContainer(root, makeRecord('planted', { status: 'running', init: bystander, gofer: bystander }));
    fs.chmodSync(statePath(root, id), 0o666);
    expect((await runcell(['--root', root, 'kill', 'planted', 'KILL'])).stderr).toContain('so it is not trusted');
    const result = await runcell(['--root', root, 'delete', '-f', 'planted']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/level=warning msg=".*is writable by its group \(mode 0666\), so it is not trusted; removing the container's files anyway"/);
    expect(isProcessAlive(bystander.pid, bystander.startTime)).toBe(true);
    expect(fs.readdirSync(root)).toEqual([]);
  });
});
