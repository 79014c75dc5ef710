// bin/runcell, the sh launcher: what reaches the CLI, from wherever it is started, and the
// V8 hash seed it passes to node (src/cli/hash-seed.ts), read from dist/hash-seed.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SMALL_BUNDLES } from '../../src/cli/command-line';
import { isCheapSeed, SEED_LIMIT } from '../../src/cli/hash-seed';
import { CLI, PROJECT_ROOT, run, tempDir } from '../helpers/env';

let dir: string;
beforeEach(() => (dir = tempDir()));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const realNode = execFileSync('sh', ['-c', 'command -v node']).toString().trim();

/**
 * A copy of the package whose dist/hash-seed holds `seed` (undefined: no such file), every
 * other file of dist/ and the package a symlink to this build's; and, first in PATH, a `node`
 * that writes the arguments it was started with to `argsFile`, then is the real node.
 */
function packageWithSeed(seed: string | undefined): { launcher: string; env: NodeJS.ProcessEnv; argsFile: string } {
  const pkg = path.join(dir, 'pkg');
  fs.mkdirSync(path.join(pkg, 'bin'), { recursive: true });
  fs.copyFileSync(CLI, path.join(pkg, 'bin/runcell'));
  for (const entry of ['package.json', 'build', 'node_modules']) fs.symlinkSync(path.join(PROJECT_ROOT, entry), path.join(pkg, entry));
  fs.mkdirSync(path.join(pkg, 'dist'));
  for (const entry of fs.readdirSync(path.join(PROJECT_ROOT, 'dist'))) {
    if (entry !== 'hash-seed') fs.symlinkSync(path.join(PROJECT_ROOT, 'dist', entry), path.join(pkg, 'dist', entry));
  }
  if (seed !== undefined) fs.writeFileSync(path.join(pkg, 'dist/hash-seed'), seed);
  const shims = path.join(dir, 'shims');
  fs.mkdirSync(shims);
  const argsFile = path.join(dir, 'node-args');
  fs.writeFileSync(path.join(shims, 'node'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${argsFile}'\nexec '${realNode}' "$@"\n`, { mode: 0o755 });
  return { launcher: path.join(pkg, 'bin/runcell'), env: { ...process.env, PATH: `${shims}:${process.env.PATH}`, NODE_EXTRA_CA_CERTS: '' }, argsFile };
}

const nodeArgs = (file: string) => fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);

describe('bin/runcell', () => {
  it('hands the CLI exactly the arguments it was given, and passes its exit code on', async () => {
    const root = path.join(dir, 'root with space');
    fs.mkdirSync(root);
    const log = path.join(dir, 'log');
    const result = await run(CLI, ['--root', root, '--log', log, '--debug', 'state', 'a b']);
    expect(result.code).toBe(1);
    // One argument with its space: not split, nothing added before it.
    expect(result.stderr).toBe('runcell: invalid container id "a b": only letters, digits, "_", "+", "-" and "." are allowed\n');
    expect(fs.readFileSync(log, 'utf8')).toContain(`msg="runcell --root ${root} --log ${log} --debug state a b"`);
    expect((await run(CLI, ['--root', root, 'list', '-q'])).code).toBe(0);
    expect((await run(CLI, ['frobnicate'])).code).toBe(1);
  });

  it('every verb that has a small bundle of its own (command-line.ts) runs from it', async () => {
    const root = path.join(dir, 'root');
    fs.mkdirSync(root);
    for (const [verb, bundle] of Object.entries(SMALL_BUNDLES)) {
      expect(fs.existsSync(path.join(PROJECT_ROOT, `dist/cli-${bundle}.js`))).toBe(true);
      expect(fs.existsSync(path.join(PROJECT_ROOT, `dist/cli-${bundle}.cache`))).toBe(true);
      if (verb === 'list') continue;
      const args = verb === 'create' || verb === 'run' ? ['-b', path.join(dir, 'no-bundle'), 'missing'] : ['missing'];
      const result = await run(CLI, ['--root', root, verb, ...args]);
      // exec fails with 255, as runc's does.
      expect(result.code, verb).toBe(verb === 'exec' ? 255 : 1);
      expect(result.stderr, verb).toMatch(verb === 'create' || verb === 'run' ? /no-bundle/ : /^runcell: container "missing" does not exist\n$/);
    }
  });

  it('runs from a symlink (as npm installs it: node_modules/.bin/runcell) and from any directory', async () => {
    const binDir = path.join(dir, 'node_modules/.bin');
    fs.mkdirSync(binDir, { recursive: true });
    fs.symlinkSync(path.relative(binDir, CLI), path.join(binDir, 'runcell'));
    const elsewhere = path.join(dir, 'elsewhere');
    fs.mkdirSync(elsewhere);
    for (const [command, cwd] of [[path.join(binDir, 'runcell'), elsewhere], ['../node_modules/.bin/runcell', elsewhere], [CLI, '/']]) {
      const result = await run(command, ['--root', path.join(dir, 'root'), 'state', 'missing'], { cwd });
      expect(result.stderr).toBe('runcell: container "missing" does not exist\n');
      expect(result.code).toBe(1);
      const version = await run(command, ['--version'], { cwd });
      expect(version.code).toBe(0);
      expect(version.stdout).toMatch(/^runcell version /);
    }
  });

  // npm's two layouts, a symlink to the package's bin/runcell: found without running readlink
  // (a fork and an exec, ~1 ms of every command); any other symlink through readlink.
  it.each([
    ['global (<prefix>/bin/runcell)', 'bin/runcell', '../lib/node_modules/runcell/bin/runcell', 'lib/node_modules/runcell', false],
    ['local (node_modules/.bin/runcell)', 'node_modules/.bin/runcell', '../runcell/bin/runcell', 'node_modules/runcell', false],
    ['another symlink', 'elsewhere/runcell', '../pkg/bin/runcell', 'pkg', true],
  ])('symlink, %s: runs the package\'s CLI', async (_what, link, target, pkgDir, readlinkRuns) => {
    fs.mkdirSync(path.dirname(path.join(dir, pkgDir)), { recursive: true });
    fs.symlinkSync(PROJECT_ROOT, path.join(dir, pkgDir));
    fs.mkdirSync(path.dirname(path.join(dir, link)), { recursive: true });
    fs.symlinkSync(target, path.join(dir, link));
    const shims = path.join(dir, 'shims');
    fs.mkdirSync(shims);
    const record = path.join(dir, 'readlink-ran');
    const realReadlink = execFileSync('sh', ['-c', 'command -v readlink']).toString().trim();
    fs.writeFileSync(path.join(shims, 'readlink'), `#!/bin/sh\n: > '${record}'\nexec '${realReadlink}' "$@"\n`, { mode: 0o755 });
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${shims}:${process.env.PATH}` };
    delete env.NODE_EXTRA_CA_CERTS;
    const result = await run(path.join(dir, link), ['--root', path.join(dir, 'root'), 'state', 'missing'], { env, cwd: '/' });
    expect(result.stderr).toBe('runcell: container "missing" does not exist\n');
    expect(result.code).toBe(1);
    expect(fs.existsSync(record)).toBe(readlinkRuns);
  });

  it('passes node the build\'s hash seed, a cheap one, and drops NODE_EXTRA_CA_CERTS', async () => {
    const seed = fs.readFileSync(path.join(PROJECT_ROOT, 'dist/hash-seed'), 'utf8');
    expect(seed).toMatch(/^[1-9]\d{0,18}\n$/);
    expect(BigInt(seed.trim()) < SEED_LIMIT && isCheapSeed(BigInt(seed.trim()))).toBe(true);
    const { launcher, env, argsFile } = packageWithSeed(seed);
    fs.mkdirSync(path.join(dir, 'root'));
    const result = await run(launcher, ['--root', path.join(dir, 'root'), 'list', '-q'], { env: { ...env, NODE_EXTRA_CA_CERTS: '/nonexistent.pem' } });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(nodeArgs(argsFile)).toEqual([`--hash-seed=${seed.trim()}`, `${dir}/pkg/bin/../dist/cli.js`, '--root', path.join(dir, 'root'), 'list', '-q']);
  });

  // A missing or damaged seed file must cost speed, never the command (V8 refuses a bad
  // --hash-seed and node exits; a file's content must never run as shell).
  const damaged: Array<[string, string | undefined]> = [
    ['missing', undefined], ['empty', ''], ['not a number', 'abc\n'], ['negative', '-5\n'], ['two words', '1 2\n'],
    ['20 digits (above 2^64 for V8)', '18446744073709551616\n'], ['shell', '$(touch INJECTED)\n'], ['a flag', '--inspect\n'],
  ];
  it.each(damaged)('seed file %s: node gets no --hash-seed and the command still runs', async (_what, content) => {
    const { launcher, env, argsFile } = packageWithSeed(content);
    const result = await run(launcher, ['--root', path.join(dir, 'root'), 'state', 'missing'], { env, cwd: dir });
    expect(result.stderr).toBe('runcell: container "missing" does not exist\n');
    expect(result.code).toBe(1);
    expect(nodeArgs(argsFile)).toEqual([`${dir}/pkg/bin/../dist/cli.js`, '--root', path.join(dir, 'root'), 'state', 'missing']);
    expect(fs.existsSync(path.join(dir, 'INJECTED'))).toBe(false);
  });

  it('a seed file without its final newline is still read', async () => {
    const { launcher, env, argsFile } = packageWithSeed('1672');
    expect((await run(launcher, ['--version'], { env })).code).toBe(0);
    expect(nodeArgs(argsFile)[0]).toBe('--hash-seed=1672');
  });
});
