import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../src';
import { livePool, runcell, useScratchRoot } from '../helpers/env';
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
});
