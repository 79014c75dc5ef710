// Where the package's programs are found (src/paths.ts): next to the module's own directory
// (dist/, or src/ under the tests), else below the package.json named runcell above it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addonFile, floorProgram, initProgram, workerScript } from '../../src/paths';

const ROOT = path.resolve(__dirname, '../..');

describe('package paths', () => {
  const scratch: string[] = [];
  afterEach(() => {
    for (const dir of scratch.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds the built programs from src/ and from dist/', () => {
    expect(addonFile()).toBe(path.join(ROOT, 'build/Release/runcell_native.node'));
    expect(initProgram()).toBe(path.join(ROOT, 'build/Release/runcell-init'));
    expect(floorProgram()).toBe(path.join(ROOT, 'build/Release/runcell-lock-floor'));
    expect(workerScript()).toBe(path.join(ROOT, 'dist/bench-worker.js'));
    const built = require(path.join(ROOT, 'dist/paths.js')) as typeof import('../../src/paths');
    expect(built.initProgram()).toBe(path.join(ROOT, 'build/Release/runcell-init'));
  });

  it('finds them under the package.json named runcell when the module is deeper (a bundle of the library)', () => {
    const pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'runcell-paths-'));
    scratch.push(pkg);
    fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'runcell' }));
    fs.mkdirSync(path.join(pkg, 'build/Release'), { recursive: true });
    fs.writeFileSync(path.join(pkg, 'build/Release/runcell-init'), '');
    fs.mkdirSync(path.join(pkg, 'lib/deep'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'dist/paths.js'), path.join(pkg, 'lib/deep/paths.js'));
    const moved = require(path.join(pkg, 'lib/deep/paths.js')) as typeof import('../../src/paths');
    expect(moved.initProgram()).toBe(path.join(pkg, 'build/Release/runcell-init'));
    expect(() => moved.addonFile()).toThrow(`'${path.join(pkg, 'build/Release/runcell_native.node')}' is missing: it is built by \`npm install\``);
  });

  it('never takes a directory that every user may write to for the package root (/tmp: a planted addon)', () => {
    // /tmp itself: a library bundled into /tmp/<dir>/paths.js must not look in /tmp/build.
    const open = fs.mkdtempSync(path.join(os.tmpdir(), 'runcell-paths-open-'));
    scratch.push(open);
    fs.chmodSync(open, 0o1777);
    fs.writeFileSync(path.join(open, 'package.json'), JSON.stringify({ name: 'runcell' }));
    fs.mkdirSync(path.join(open, 'build/Release'), { recursive: true });
    fs.writeFileSync(path.join(open, 'build/Release/runcell-init'), 'planted');
    fs.mkdirSync(path.join(open, 'app'), { mode: 0o755 });
    fs.copyFileSync(path.join(ROOT, 'dist/paths.js'), path.join(open, 'app/paths.js'));
    const bundled = require(path.join(open, 'app/paths.js')) as typeof import('../../src/paths');
    // Neither next to the module's directory nor through the package.json found there; /tmp
    // and / above hold no runcell package either.
    expect(() => bundled.initProgram()).toThrow(`cannot find the runcell package above ${path.join(open, 'app')}`);
    // The same directory made writable by its owner alone is a package root again.
    fs.chmodSync(open, 0o755);
    const again = fs.mkdtempSync(path.join(open, 'app2-'));
    fs.copyFileSync(path.join(ROOT, 'dist/paths.js'), path.join(again, 'paths.js'));
    const trusted = require(path.join(again, 'paths.js')) as typeof import('../../src/paths');
    expect(trusted.initProgram()).toBe(path.join(open, 'build/Release/runcell-init'));
  });
});
