// The state directory of real containers: 0700, and every file in it 0600 (the FIFOs of the
// start gate and the gofer's exit record too) whatever the umask of the CLI that made them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runcell, useScratch } from '../helpers/env';
import { makeBundle, whyNoContainers } from '../helpers/bundle';

const skip = whyNoContainers();
// Cgroups are host-wide: an id of our own, not one another test run may be using.
const ID = `statefiles${process.pid}`;
let dir: string;
let root: string;
useScratch((d, r) => {
  dir = d;
  root = r;
});

// The CLI inherits our umask when it is spawned, which is synchronous.
function runcellWithUmask(umask: number, args: string[]) {
  const previous = process.umask(umask);
  try {
    return runcell(['--root', root, ...args]);
  } finally {
    process.umask(previous);
  }
}

function modes(): Record<string, string> {
  const seen: Record<string, string> = {};
  for (const name of fs.readdirSync(root)) {
    const stat = fs.lstatSync(path.join(root, name));
    const kind = stat.isFIFO() ? 'fifo' : stat.isFile() ? 'file' : 'other';
    seen[name.slice(`${ID}_sandbox:${ID}.`.length)] = `${kind} ${(stat.mode & 0o777).toString(8).padStart(4, '0')}`;
  }
  return seen;
}

describe.skipIf(skip !== null)(`the state directory${skip ? ` (skipped: ${skip})` : ''}`, () => {
  for (const umask of [0o000, 0o077]) {
    it(`is 0700 with every file 0600 under umask ${umask.toString(8).padStart(3, '0')}, from create to the exit record`, async () => {
      const bundle = makeBundle(path.join(dir, 'bundle'), ['sh', '-c', 'exit 3']);
      expect(await runcellWithUmask(umask, ['create', '-b', bundle, ID])).toMatchObject({ code: 0, stderr: '' });
      expect(fs.statSync(root).mode & 0o777).toBe(0o700);
      expect(modes()).toEqual({
        lock: 'file 0600', state: 'file 0600', pids: 'file 0600', spec: 'file 0600', gate: 'fifo 0600', ready: 'fifo 0600',
      });
      expect(await runcellWithUmask(umask, ['start', ID])).toMatchObject({ code: 0, stderr: '' });
      expect(await runcellWithUmask(umask, ['wait', ID])).toMatchObject({ code: 0, stdout: `{"id":"${ID}","exitStatus":3}\n` });
      expect(modes()).toMatchObject({ exit: 'file 0600', state: 'file 0600', pids: 'file 0600' });
      expect(Object.keys(modes()).filter((ext) => ext.endsWith('tmp'))).toEqual([]);
      expect(await runcellWithUmask(umask, ['delete', ID])).toMatchObject({ code: 0, stderr: '' });
      expect(fs.readdirSync(root)).toEqual([]);
    });
  }

  it('start reads the saved spec as exec does: a symlink put in its place is refused, not followed', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['true']);
    expect(await runcell(['--root', root, 'create', '-b', bundle, ID])).toMatchObject({ code: 0 });
    const spec = path.join(root, `${ID}_sandbox:${ID}.spec`);
    const elsewhere = path.join(dir, 'elsewhere.json');
    fs.renameSync(spec, elsewhere);
    fs.symlinkSync(elsewhere, spec);
    const start = await runcell(['--root', root, 'start', ID]);
    expect(start.code).not.toBe(0);
    expect(start.stderr).toContain(`cannot start container "${ID}"`);
    expect(start.stderr).toContain('symlink');
    expect(await runcell(['--root', root, 'delete', '--force', ID])).toMatchObject({ code: 0 });
  });
});
