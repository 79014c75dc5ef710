import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { livePool, runcell, useScratchRoot } from '../helpers/env';
import { makeRecord, statePath, writeContainer } from '../helpers/records';

let dir: string;
let root: string;
const pool = livePool();
const live = () => pool.live();

useScratchRoot((d, r) => {
  dir = d;
  root = r;
});
afterEach(() => pool.killAll());

describe('runcell list', () => {
  it('prints runc\'s table: header, then one row per container sorted by id', async () => {
    const init = live();
    writeContainer(root, makeRecord('web', { status: 'running', init, bundle: '/srv/web', created: '2026-11-29T21:00:00.5Z' }));
    writeContainer(root, makeRecord('db', { status: 'running', init: { pid: init.pid, startTime: init.startTime + 1 } }));
    const result = await runcell(['--root', root, 'list']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe('ID          PID         STATUS      BUNDLE        CREATED                    OWNER');
    // db's pid now belongs to another process: stopped, pid 0.
    expect(lines[1]).toBe('db          0           stopped     /bundles/db   2026-11-29T21:00:00.000Z   root');
    expect(lines[2]).toBe(`web         ${String(init.pid).padEnd(12)}running     /srv/web      2026-11-29T21:00:00.5Z     root`);
    expect(lines[3]).toBe('');
  });

  it('-q prints ids only; --format json prints OCI states, or null for none', async () => {
    fs.mkdirSync(root);
    expect((await runcell(['--root', root, 'list', '--format', 'json'])).stdout).toBe('null\n');
    expect((await runcell(['--root', root, 'list', '-q'])).stdout).toBe('');
    writeContainer(root, makeRecord('b', { annotations: { k: 'v' } }));
    writeContainer(root, makeRecord('a'));
    expect((await runcell(['--root', root, 'list', '-q'])).stdout).toBe('a\nb\n');
    const json = await runcell(['--root', root, 'list', '--format=json']);
    const states = JSON.parse(json.stdout);
    expect(states.map((s: { id: string }) => s.id)).toEqual(['a', 'b']);
    expect(states[1]).toEqual({
      ociVersion: '1.2.0', id: 'b', pid: 0, status: 'stopped', bundle: '/bundles/b', rootfs: '/bundles/b/rootfs',
      created: '2026-11-29T21:00:00.000Z', owner: 'root', annotations: { k: 'v' },
    });
  });

  it('shows every other container when one state file is damaged, and reports it in debug', async () => {
    writeContainer(root, makeRecord('ok1'));
    const bad = writeContainer(root, makeRecord('bad'));
    writeContainer(root, makeRecord('ok2'));
    fs.writeFileSync(statePath(root, bad), '{"version":1,"id":"ba');
    const quiet = await runcell(['--root', root, 'list', '-q']);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toBe('ok1\nok2\n');
    expect(quiet.stderr).toBe('');
    const debug = await runcell(['--root', root, '--debug', 'list', '-q']);
    expect(debug.stdout).toBe('ok1\nok2\n');
    expect(debug.stderr).toMatch(/level=debug msg="skipping container \\"bad\\" of sandbox \\"bad\\": state file .* is damaged/);
  });

  it('treats a missing default root as empty but a missing --root as an error', async () => {
    const missing = await runcell(['--root', path.join(dir, 'nope'), 'list']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`runcell: root directory '${path.join(dir, 'nope')}' does not exist\n`);
  });

  it('rejects an unknown --format', async () => {
    const result = await runcell(['--root', root, 'list', '--format', 'yaml']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/argument 'yaml' is invalid. Allowed choices are table, json/);
  });
});
