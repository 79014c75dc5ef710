// --pid-file in a directory someone else may write to: a symlink planted at any name the write
// could go through never leads it to another file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writePidFile } from '../../src/container/pid-file';
import { tempDir } from '../helpers/env';

let dir: string;

beforeEach(() => {
  dir = tempDir();
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('writePidFile', () => {
  it('writes the pid without a newline and leaves no temp file behind', () => {
    const target = path.join(dir, 'c.pid');
    writePidFile(target, 1234);
    expect(fs.readFileSync(target, 'utf8')).toBe('1234');
    writePidFile(target, 56);
    expect(fs.readFileSync(target, 'utf8')).toBe('56');
    expect(fs.readdirSync(dir)).toEqual(['c.pid']);
  });

  it('never writes through a symlink planted at a name it could use, nor at the target itself', () => {
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'precious');
    const target = path.join(dir, 'c.pid');
    // The names a writer could predict: the old `<file>.<pid>.tmp`, runc's `.<file>`, and the
    // target itself.
    const planted = [`${target}.${process.pid}.tmp`, path.join(dir, '.c.pid'), `${target}.tmp`];
    for (const name of planted) fs.symlinkSync(victim, name);
    fs.symlinkSync(victim, target);
    writePidFile(target, 4321);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
    // rename replaced the link at the target, not the file it named.
    expect(fs.lstatSync(target).isFile()).toBe(true);
    expect(fs.readFileSync(target, 'utf8')).toBe('4321');
    for (const name of planted) expect(fs.readlinkSync(name)).toBe(victim);
    expect(fs.readdirSync(dir).sort()).toEqual([...planted.map((p) => path.basename(p)), 'c.pid', 'victim'].sort());
  });

  it('creates nothing when the directory does not exist, and reports it', () => {
    expect(() => writePidFile(path.join(dir, 'missing', 'c.pid'), 1)).toThrow(/ENOENT/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
