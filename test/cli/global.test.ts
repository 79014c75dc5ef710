// Global options and behaviour shared by every command.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runcell, tempDir } from '../helpers/env';

let dir: string;
beforeEach(() => (dir = tempDir()));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const jsonLines = (file: string) => fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('runcell global options', () => {
  it('--version prints the three lines containerd parses', async () => {
    for (const flag of ['--version', '-v']) {
      const result = await runcell([flag]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^runcell version \d+\.\d+\.\d+\ncommit: \S+\nspec: 1\.2\.0\n$/);
    }
  });

  it('--log FILE --log-format json appends every error as a JSON line, also usage errors', async () => {
    const log = path.join(dir, 'log.json');
    await runcell(['--root', dir, '--log', log, '--log-format', 'json', 'state', 'missing']);
    await runcell(['--root', dir, `--log=${log}`, '--log-format=json', 'state', '--bogus', 'x']);
    await runcell(['--root', dir, '--log', log, '--log-format', 'json', 'frobnicate']);
    const lines = jsonLines(log);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['error', 'container "missing" does not exist'],
      ['error', "unknown option '--bogus'"],
      ['error', "unknown command 'frobnicate'"],
    ]);
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(['level', 'msg', 'time']);
      expect(new Date(line.time).toISOString()).toBe(line.time);
    }
  });

  it('--log with text format writes logrus lines, and --debug adds the command', async () => {
    const log = path.join(dir, 'log.txt');
    const result = await runcell(['--root', dir, '--log', log, '--debug', 'state', 'x']);
    expect(result.stderr).toBe('runcell: container "x" does not exist\n');
    const text = fs.readFileSync(log, 'utf8');
    expect(text).toMatch(/^time="[^"]+" level=debug msg="runcell --root .* state x"\n/);
    expect(text).toMatch(/level=error msg="container \\"x\\" does not exist"\n$/);
  });

  it('rejects an unknown --log-format, an unknown command and global options after the command', async () => {
    const format = await runcell(['--log-format', 'xml', 'list']);
    expect(format.code).toBe(1);
    expect(format.stderr).toContain("option '--log-format <format>' argument 'xml' is invalid");
    expect((await runcell(['frobnicate'])).code).toBe(1);
    const late = await runcell(['state', '--root', dir, 'x']);
    expect(late.code).toBe(1);
    expect(late.stderr).toBe("runcell: unknown option '--root'\n");
  });

  it('uses /run/runcell when no --root is given (podman passes none)', async () => {
    const result = await runcell(['state', 'surely-no-such-container-here']);
    expect(result.stderr).toBe('runcell: container "surely-no-such-container-here" does not exist\n');
  });
});
