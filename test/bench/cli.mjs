#!/usr/bin/env node
// CLI latency against runc, measured side by side with hyperfine in the same run: the ratio is
// what to read (this machine is shared and noisy). Needs root, runc, hyperfine and busybox
// (apt-get install -y runc hyperfine busybox-static); tests never need them.
//
//   node test/bench/cli.mjs [--runs N]
//
// `state` of a running container, `run` of `true` in the foreground, `exec` of `true` in a
// running container, and create + start + delete --force of `true`: the same busybox bundle for both runtimes, each in its own root.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const project = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const runcell = path.join(project, 'bin/runcell');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 40;

for (const tool of ['runc', 'hyperfine', 'busybox']) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    console.error(`bench: ${tool} is not installed (apt-get install -y runc hyperfine busybox-static)`);
    process.exit(2);
  }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'runcell-bench-'));
const bundle = path.join(work, 'bundle');
const runcRoot = path.join(work, 'runc-root');
const runcellRoot = path.join(work, 'runcell-root');

function makeBundle() {
  fs.mkdirSync(path.join(bundle, 'rootfs/bin'), { recursive: true });
  fs.copyFileSync(execFileSync('sh', ['-c', 'command -v busybox']).toString().trim(), path.join(bundle, 'rootfs/bin/busybox'));
  fs.chmodSync(path.join(bundle, 'rootfs/bin/busybox'), 0o755);
  for (const applet of ['sh', 'sleep', 'true']) fs.symlinkSync('busybox', path.join(bundle, 'rootfs/bin', applet));
  execFileSync('runc', ['spec'], { cwd: bundle });
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = ['sleep', '100000'];
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
}

function setArgs(args) {
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  spec.process.args = args;
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
}

async function main() {
  makeBundle();
  execFileSync('runc', ['--root', runcRoot, 'run', '-d', '-b', bundle, 'bench-runc'], { stdio: 'ignore' });
  execFileSync(runcell, ['--root', runcellRoot, 'run', '-d', '-b', bundle, 'bench-runcell'], { stdio: 'ignore' });
  setArgs(['true']);
  const results = path.join(work, 'hyperfine.json');
  const chain = (rt, root) => `${rt} --root ${root} create -b ${bundle} chain && ${rt} --root ${root} start chain && ${rt} --root ${root} delete --force chain`;
  try {
    execFileSync('hyperfine', [
      '-N', '--warmup', '3', '--runs', String(runs), '--export-json', results,
      '-n', 'runc state', `runc --root ${runcRoot} state bench-runc`,
      '-n', 'runcell state', `${runcell} --root ${runcellRoot} state bench-runcell`,
      '-n', 'runc run true', `runc --root ${runcRoot} run -b ${bundle} run-once`,
      '-n', 'runcell run true', `${runcell} --root ${runcellRoot} run -b ${bundle} run-once`,
      '-n', 'runc exec true', `runc --root ${runcRoot} exec bench-runc true`,
      '-n', 'runcell exec true', `${runcell} --root ${runcellRoot} exec bench-runcell true`,
      '-n', 'node -e 0 (no CA certs)', 'env -u NODE_EXTRA_CA_CERTS node -e 0',
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
    const first = JSON.parse(fs.readFileSync(results, 'utf8')).results;
    execFileSync('hyperfine', [
      '--warmup', '3', '--runs', String(Math.ceil(runs / 2)), '--export-json', results,
      '-n', 'runc create+start+delete', chain('runc', runcRoot),
      '-n', 'runcell create+start+delete', chain(runcell, runcellRoot),
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
    const byName = Object.fromEntries([...first, ...JSON.parse(fs.readFileSync(results, 'utf8')).results]
      .map((r) => [r.command, r]));
    const ms = (name) => byName[name].median * 1000;
    console.log('command                         median ms   (min-max)');
    for (const [name, r] of Object.entries(byName)) {
      console.log(`${name.padEnd(31)} ${ms(name).toFixed(1).padStart(9)}   (${(r.min * 1000).toFixed(1)}-${(r.max * 1000).toFixed(1)})`);
    }
    console.log('');
    for (const what of ['state', 'run true', 'exec true', 'create+start+delete']) {
      console.log(`runcell / runc, ${what}:`.padEnd(42) + (ms(`runcell ${what}`) / ms(`runc ${what}`)).toFixed(2));
    }
    console.log(`runcell state / bare node start:`.padEnd(42) + (ms('runcell state') / ms('node -e 0 (no CA certs)')).toFixed(2));
  } finally {
    execFileSync('runc', ['--root', runcRoot, 'delete', '--force', 'bench-runc'], { stdio: 'ignore' });
    execFileSync(runcell, ['--root', runcellRoot, 'delete', '--force', 'bench-runcell'], { stdio: 'ignore' });
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
