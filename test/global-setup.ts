// Before any test: rebuild the CLI bundle and the test workers from the current sources, so
// that tests which start other processes never run stale code. (The addon is built by
// `npm install`; a missing one fails loudly when the first test loads it.)
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(__dirname, '..');

export default async function setup(): Promise<void> {
  execFileSync(process.execPath, [path.join(root, 'src/cli/bundle.mjs')], { stdio: 'inherit' });
  const workers = fs.readdirSync(path.join(root, 'test/workers')).filter((f) => f.endsWith('.ts'));
  await build({
    entryPoints: workers.map((f) => path.join(root, 'test/workers', f)),
    outdir: path.join(root, 'build/test-workers'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
  });
}
