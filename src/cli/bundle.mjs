// Builds dist/cli.js, the one file bin/runcell loads: the CLI and the library bundled together,
// so a command costs one file read instead of dozens of module resolutions. Commands import
// the library lazily (await import), which esbuild turns into lazy module initialisation, so
// `spec` never loads the addon. Run by `npm run build` (and so by `npm install`).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function commit() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minifySyntax: true,
  minifyWhitespace: true,
  keepNames: true,
  sourcemap: 'linked',
  define: { RUNCELL_COMMIT: JSON.stringify(commit()) },
  logLevel: 'warning',
  // The D-Bus client of --systemd-cgroup stays a require() of the installed package: loaded
  // from node_modules, only by a container that uses systemd (src/container/systemd.ts).
  external: ['dbus-next'],
};

await build({ ...common, entryPoints: [path.join(root, 'src/cli/run.ts')], outfile: path.join(root, 'dist/cli.js') });
// The worker processes of `runcell bench locks`: started dozens at a time, so bundled too.
await build({ ...common, entryPoints: [path.join(root, 'src/bench/worker.ts')], outfile: path.join(root, 'dist/bench-worker.js') });
