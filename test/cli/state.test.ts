import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { processStartTime } from '../../src';
import { runcell, startSleeper, useScratchRoot } from '../helpers/env';
import { makeRecord, statePath, writeContainer } from '../helpers/records';

let root: string;
useScratchRoot((_dir, r) => {
  root = r;
});

describe('runcell state', () => {
  it('prints the OCI state indented by two spaces, without a trailing newline', async () => {
    const sleeper = startSleeper();
    try {
      const init = { pid: sleeper.pid!, startTime: processStartTime(sleeper.pid!) };
      writeContainer(root, makeRecord('web', { status: 'running', init, annotations: { 'io.x': 'y' } }));
      const result = await runcell(['--root', root, 'state', 'web']);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(JSON.stringify({
        ociVersion: '1.2.0', id: 'web', pid: init.pid, status: 'running', bundle: '/bundles/web',
        rootfs: '/bundles/web/rootfs', created: '2026-11-29T21:00:00.000Z', owner: 'root', annotations: { 'io.x': 'y' },
      }, null, 2));
      // The live status: once the init is gone the container is stopped and its pid 0.
      sleeper.kill('SIGKILL');
      await new Promise((resolve) => sleeper.once('exit', resolve));
      const after = JSON.parse((await runcell(['--root', root, 'state', 'web'])).stdout);
      expect(after).toMatchObject({ status: 'stopped', pid: 0 });
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('resolves a unique prefix, and an exact id before prefixes', async () => {
    writeContainer(root, makeRecord('q'));
    writeContainer(root, makeRecord('q1'));
    writeContainer(root, makeRecord('alpha'));
    expect(JSON.parse((await runcell(['--root', root, 'state', 'q'])).stdout).id).toBe('q');
    expect(JSON.parse((await runcell(['--root', root, 'state', 'al'])).stdout).id).toBe('alpha');
  });

  it('fails with exit 1 and one line on stderr for unknown, ambiguous, invalid and damaged ids', async () => {
    writeContainer(root, makeRecord('ab1'));
    writeContainer(root, makeRecord('ab2'));
    const bad = writeContainer(root, makeRecord('broken'));
    fs.writeFileSync(statePath(root, bad), '');
    const cases: Array<[string, string]> = [
      ['nope', 'runcell: container "nope" does not exist\n'],
      ['ab', 'runcell: container id "ab" is ambiguous: it could refer to "ab1", "ab2"\n'],
      ['a/b', 'runcell: invalid container id "a/b": only letters, digits, "_", "+", "-" and "." are allowed\n'],
      ['broken', `runcell: state file of container "broken" is damaged: '${statePath(root, bad)}': Unexpected end of JSON input\n`],
    ];
    for (const [id, message] of cases) {
      const result = await runcell(['--root', root, 'state', id]);
      expect({ id, code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({ id, code: 1, stdout: '', stderr: message });
    }
  });

  it('requires an id', async () => {
    const result = await runcell(['--root', root, 'state']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("runcell: missing required argument 'id'\n");
  });
});
