// Where the package's programs are, from the library (dist/...) and from the CLI bundle
// (dist/cli.js) alike: found from the package root.
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;
function packageRoot(): string {
  if (root !== undefined) return root;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'runcell') return (root = dir);
    if (path.dirname(dir) === dir) throw new Error(`cannot find the runcell package above ${__dirname}`);
  }
}

/**
 * The N-API addon (built by `npm install`). Found from this file's own location, not from the
 * caller's stack as the `bindings` package does: that fails in a process whose entry point is
 * a bundle started from another directory (the workers of `runcell bench locks`).
 */
export function addonFile(): string {
  return requireFile(path.join(packageRoot(), 'build', 'Release', 'runcell_native.node'), 'npm install');
}

/** The container's native processes, gofer and init (built by `npm install`). */
export function initProgram(): string {
  return requireFile(path.join(packageRoot(), 'build', 'Release', 'runcell-init'), 'npm install');
}

/** The bundled worker of `runcell bench locks` (built by `npm run build`). */
export function workerScript(): string {
  return requireFile(path.join(packageRoot(), 'dist', 'bench-worker.js'), 'npm run build');
}

/** The C floor (built by `npm install`, binding.gyp target runcell-lock-floor). */
export function floorProgram(): string {
  return requireFile(path.join(packageRoot(), 'build', 'Release', 'runcell-lock-floor'), 'npm install');
}

function requireFile(file: string, builtBy: string): string {
  if (!fs.existsSync(file)) throw new Error(`'${file}' is missing: it is built by \`${builtBy}\``);
  return file;
}
