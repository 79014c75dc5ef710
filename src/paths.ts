// Where the package's programs are, from the library (dist/...) and from the CLI bundle
// (dist/cli.js) alike: found from the package root. A directory that every user may write to
// is never taken for the root: a library bundled into /tmp/app.js would otherwise look for
// /tmp/build/Release/runcell_native.node, which anyone can plant, and load it into a process
// that is usually root's.
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;
function packageRoot(): string {
  if (root !== undefined) return root;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (!writableByOthers(dir) && fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'runcell') return (root = dir);
    if (path.dirname(dir) === dir) throw new Error(`cannot find the runcell package above ${__dirname}`);
  }
}

/**
 * A file of the package, by its path from the package root. This module is always one level
 * below the root (dist/paths.js, a bundle dist/cli-*.js, or src/paths.ts under the tests), so
 * the file is looked for there first: found, no package.json is read (every command that loads
 * the addon did, ~0.1 ms). Elsewhere (a bundle of the library made by its user) the root is
 * the package.json named runcell above this file.
 */
function packageFile(builtBy: string, ...parts: string[]): string {
  const nearRoot = path.dirname(__dirname);
  const near = path.join(nearRoot, ...parts);
  return fs.existsSync(near) && !writableByOthers(nearRoot) ? near : requireFile(path.join(packageRoot(), ...parts), builtBy);
}

/**
 * Whether every user may write to `dir` (/tmp: anyone may create entries there, a sticky bit
 * or not). Group-writable is allowed: with a private group per user (umask 002) an npm install
 * makes every directory so.
 */
function writableByOthers(dir: string): boolean {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  return stat === undefined || (stat.mode & 0o002) !== 0;
}

/**
 * The N-API addon (built by `npm install`). Found from this file's own location, not from the
 * caller's stack as the `bindings` package does: that fails in a process whose entry point is
 * a bundle started from another directory (the workers of `runcell bench locks`).
 */
export function addonFile(): string {
  return packageFile('npm install', 'build', 'Release', 'runcell_native.node');
}

/** The container's native processes, gofer and init (built by `npm install`). */
export function initProgram(): string {
  return packageFile('npm install', 'build', 'Release', 'runcell-init');
}

/** The bundled worker of `runcell bench locks` (built by `npm run build`). */
export function workerScript(): string {
  return packageFile('npm run build', 'dist', 'bench-worker.js');
}

/** The C floor (built by `npm install`, binding.gyp target runcell-lock-floor). */
export function floorProgram(): string {
  return packageFile('npm install', 'build', 'Release', 'runcell-lock-floor');
}

function requireFile(file: string, builtBy: string): string {
  if (!fs.existsSync(file)) throw new Error(`'${file}' is missing: it is built by \`${builtBy}\``);
  return file;
}
