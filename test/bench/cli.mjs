#!/usr/bin/env node
// CLI and library latency against runc, with a bare node start as the floor: what to read is
// the ratio of two commands measured in the same run (this machine is shared and noisy). Each
// round runs hyperfine over every command, then the library's cycles; the rounds' samples are
// pooled, so a burst of someone else's load falls on every command alike. Needs root, runc,
// hyperfine and busybox (apt-get install -y runc hyperfine busybox-static); tests never need them.
//
//   node test/bench/cli.mjs [--runs N] [--rounds R] [--svg FILE]
//
// Prints each command's median wall time and mean CPU time (user + system of the process and
// the children it waited for), then issue 13's targets as ratios, each PASS or FAIL (with
// --svg, also as a bar chart). A target is a report, not a test: the exit status is 0 whatever
// the ratios.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const project = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const runcell = path.join(project, 'bin/runcell');
const argValue = (flag, fallback) => (process.argv.includes(flag) ? Number(process.argv[process.argv.indexOf(flag) + 1]) : fallback);
const runs = argValue('--runs', 30);
const rounds = argValue('--rounds', 3);
const svgFile = process.argv.includes('--svg') ? process.argv[process.argv.indexOf('--svg') + 1] : undefined;
const library = createRequire(import.meta.url)(project); // dist/index.js

for (const tool of ['runc', 'hyperfine', 'busybox']) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    console.error(`bench: ${tool} is not installed (apt-get install -y runc hyperfine busybox-static)`);
    process.exit(2);
  }
}

// State directories on tmpfs, as /run is on a host (runc's /run/runc, runcell's /run/runcell).
const work = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'runcell-bench-'));
const sleeper = path.join(work, 'sleep');   // a bundle whose process sleeps
const once = path.join(work, 'true');       // one whose process exits at once
const rootOf = (rt, what) => path.join(work, `${rt}-${what}`);
// Container ids name host-wide cgroups (`/runcell/<id>`, runc's `/<id>`): a bare `c` would
// collide with anyone else's `c` on this host, so every id carries this run's own tag.
const tag = `bench${process.pid}-`;
const ids = { still: `${tag}c`, st: `${tag}st`, dl: `${tag}dl`, kd: `${tag}kd`, ch: `${tag}ch`, rn: `${tag}rn` };

function makeBundles() {
  fs.mkdirSync(path.join(sleeper, 'rootfs/bin'), { recursive: true });
  fs.copyFileSync(execFileSync('sh', ['-c', 'command -v busybox']).toString().trim(), path.join(sleeper, 'rootfs/bin/busybox'));
  fs.chmodSync(path.join(sleeper, 'rootfs/bin/busybox'), 0o755);
  for (const applet of ['sh', 'sleep', 'true']) fs.symlinkSync('busybox', path.join(sleeper, 'rootfs/bin', applet));
  execFileSync('runc', ['spec'], { cwd: sleeper });
  const spec = JSON.parse(fs.readFileSync(path.join(sleeper, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = ['sleep', '100000'];
  fs.writeFileSync(path.join(sleeper, 'config.json'), JSON.stringify(spec));
  fs.mkdirSync(once);
  spec.process.args = ['true'];
  spec.root = { path: path.join(sleeper, 'rootfs'), readonly: true };
  fs.writeFileSync(path.join(once, 'config.json'), JSON.stringify(spec));
}

// [name, command, prepare] per runtime; `rt` is the runtime's command with its --root.
function verbs(runtime) {
  const rt = (what) => `${runtime === 'runc' ? 'runc' : runcell} --root ${rootOf(runtime, what)}`;
  const quiet = (cmd) => `${cmd} >/dev/null 2>&1`;
  const still = rt('still'); // one running container, for the verbs that read or signal it
  const life = rt('life');
  const { still: c, st, dl, kd, ch, rn } = ids;
  return [
    ['--version', `${runtime === 'runc' ? 'runc' : runcell} --version`],
    ['state', `${still} state ${c}`],
    ['list', `${still} list`],
    ['kill', `${still} kill ${c} SIGWINCH`],
    ['ps', `${still} ps -f json ${c}`],
    ['exec true', `${still} exec ${c} true`],
    ['pause', `${still} pause ${c}`, `sh -c '${quiet(`${still} resume ${c}`)}; true'`],
    ['resume', `${still} resume ${c}`, `sh -c '${quiet(`${still} pause ${c}`)}; true'`],
    ['start', `${life} start ${st}`, `sh -c '${quiet(`${life} delete -f ${st}`)}; ${life} create -b ${sleeper} ${st}'`],
    ['delete', `${life} delete ${dl}`, `sh -c '${quiet(`${life} delete -f ${dl}`)}; ${life} create -b ${once} ${dl} && ${life} start ${dl} && ` +
      `until ${life} state ${dl} | grep -q stopped; do sleep 0.005; done'`],
    ['kill+delete --force', `sh -c '${life} kill ${kd} KILL && ${life} delete --force ${kd}'`,
      `sh -c '${quiet(`${life} delete -f ${kd}`)}; ${life} run -d -b ${sleeper} ${kd}'`],
    ['run true', `${life} run -b ${once} ${rn}`],
    ['create+start+delete', `sh -c '${life} create -b ${once} ${ch} && ${life} start ${ch} && ${life} delete --force ${ch}'`],
  ];
}

const node = 'env -u NODE_EXTRA_CA_CERTS node -e 0';
const floors = [
  ['node -e 0', node],
  ['2x node -e 0', `sh -c '${node} && ${node}'`],
];

function fillRoot(root, count) {
  fs.mkdirSync(root, { recursive: true, mode: 0o711 });
  const { createBenchContainer } = createRequire(import.meta.url)(path.join(project, 'dist/bench/fixture.js'));
  for (let i = 0; i < count; i++) createBenchContainer(root, `c${String(i).padStart(5, '0')}`);
}

// Pooled samples: wall times, and CPU (user + system) as hyperfine's per-command means.
const samples = new Map();
function record(name, wall, cpu, count) {
  const s = samples.get(name) ?? { wall: [], cpuSum: 0, count: 0 };
  s.wall.push(...wall);
  s.cpuSum += cpu * count;
  s.count += count;
  samples.set(name, s);
}

function hyperfine(entries, perRound) {
  const results = path.join(work, 'hyperfine.json');
  const args = ['-N', '--warmup', '2', '--runs', String(perRound), '--export-json', results];
  for (const [name, command, prepare] of entries) args.push('--prepare', prepare ?? 'true', '-n', name, command);
  execFileSync('hyperfine', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  for (const r of JSON.parse(fs.readFileSync(results, 'utf8')).results) record(r.command, r.times, r.user + r.system, r.times.length);
}

const devNull = fs.openSync('/dev/null', 'r+');
async function libraryCycle(root, id) {
  await library.createContainer(root, id, { bundle: once, stdio: [devNull, devNull, devNull] });
  await library.startContainer(root, id);
  await library.waitContainer(root, id);
  await library.Container.delete(root, id);
}

// One container's whole cycle through the library, one at a time, then `parallel` at once.
async function libraryRound(cycles, parallel) {
  const root = rootOf('library', 'cycle');
  const times = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < cycles; i++) {
    const t = performance.now();
    await libraryCycle(root, `${tag}lib${i}`);
    times.push((performance.now() - t) / 1000);
  }
  const cpu = process.cpuUsage(cpu0);
  record('library cycle', times, (cpu.user + cpu.system) / 1e6 / cycles, cycles);
  // Throughput is compared with throughput: the whole loop's time per cycle, one at a time and
  // `parallel` at once (the median of single cycles above leaves out the slow ones that a loop pays).
  record('library cycle, one at a time (per cycle)', [(performance.now() - start) / 1000 / cycles], 0, 0);
  const t = performance.now();
  await Promise.all(Array.from({ length: parallel }, async (_, k) => {
    for (let i = 0; i < cycles; i++) await libraryCycle(root, `${tag}lib${k}-${i}`);
  }));
  const each = (performance.now() - t) / 1000 / (cycles * parallel);
  record(`library cycle, ${parallel} at once (per cycle)`, [each], 0, 0);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  makeBundles();
  try {
    await measure();
  } finally {
    // Also after a failed set-up (runcell's container not made, runc's already running).
    for (const rt of ['runc', 'runcell']) {
      for (const [what, id] of [['still', ids.still], ['life', ids.st], ['life', ids.dl], ['life', ids.kd], ['life', ids.ch], ['life', ids.rn]]) {
        try {
          execFileSync(rt === 'runc' ? 'runc' : runcell, ['--root', rootOf(rt, what), 'delete', '--force', id], { stdio: 'ignore' });
        } catch { /* not there */ }
      }
    }
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function measure() {
  for (const rt of ['runc', 'runcell']) {
    execFileSync(rt === 'runc' ? 'runc' : runcell, ['--root', rootOf(rt, 'still'), 'run', '-d', '-b', sleeper, ids.still], { stdio: 'ignore' });
  }
  fillRoot(rootOf('list', '100'), 100);
  fillRoot(rootOf('list', '1000'), 1000);
  const parallel = Math.max(2, os.availableParallelism?.() ?? os.cpus().length);
  const entries = [
    ...floors,
    ...verbs('runc').map(([name, ...rest]) => [`runc ${name}`, ...rest]),
    ...verbs('runcell').map(([name, ...rest]) => [`runcell ${name}`, ...rest]),
    ['runcell list (100 stopped)', `${runcell} --root ${rootOf('list', '100')} list`],
    ['runcell list (1000 stopped)', `${runcell} --root ${rootOf('list', '1000')} list`],
  ];
  for (let round = 0; round < rounds; round++) {
    hyperfine(entries, Math.ceil(runs / rounds));
    await libraryRound(Math.ceil(runs / rounds), parallel);
  }
  report(parallel);
}

function report(parallel) {
  const wall = (name) => median(samples.get(name).wall) * 1000;
  const cpu = (name) => (samples.get(name).cpuSum / samples.get(name).count) * 1000;
  console.log(`${'command'.padEnd(40)} ${'wall median ms'.padStart(14)} ${'cpu mean ms'.padStart(12)}`);
  for (const [name, s] of samples) {
    console.log(`${name.padEnd(40)} ${wall(name).toFixed(1).padStart(14)} ${s.count > 0 ? cpu(name).toFixed(1).padStart(12) : ''}`);
  }
  console.log('');
  console.log('issue 13 targets (ratios of this run; wall medians, CPU means beside)');
  const targets = [];
  const target = (what, value, limit, cpuValue) => {
    targets.push({ what, value, limit, cpuValue });
    const cpuText = cpuValue === undefined ? '' : `   cpu ${cpuValue.toFixed(2)}`;
    console.log(`${value <= limit ? 'PASS' : 'FAIL'}  ${what.padEnd(52)} ${value.toFixed(2).padStart(5)} <= ${limit}${cpuText}`);
  };
  for (const verb of ['state', 'list', 'kill', 'pause', 'resume', 'ps', '--version']) {
    target(`runcell ${verb} / node -e 0`, wall(`runcell ${verb}`) / wall('node -e 0'), 1.2, cpu(`runcell ${verb}`) / cpu('node -e 0'));
  }
  for (const verb of ['start', 'delete']) {
    target(`runcell ${verb} / node -e 0`, wall(`runcell ${verb}`) / wall('node -e 0'), 1.35, cpu(`runcell ${verb}`) / cpu('node -e 0'));
  }
  target('runcell kill+delete --force / 2x node -e 0', wall('runcell kill+delete --force') / wall('2x node -e 0'), 1.25,
    cpu('runcell kill+delete --force') / cpu('2x node -e 0'));
  target('runcell run true / runc', wall('runcell run true') / wall('runc run true'), 2, cpu('runcell run true') / cpu('runc run true'));
  target('runcell create+start+delete / runc', wall('runcell create+start+delete') / wall('runc create+start+delete'), 2.5,
    cpu('runcell create+start+delete') / cpu('runc create+start+delete'));
  target('library cycle / runc CLI create+start+delete', wall('library cycle') / wall('runc create+start+delete'), 0.35);
  const scaling = wall('library cycle, one at a time (per cycle)') / wall(`library cycle, ${parallel} at once (per cycle)`);
  console.log(`${scaling >= parallel * 0.7 ? 'PASS' : 'FAIL'}  library cycles, ${parallel} at once: throughput x${scaling.toFixed(2)} of one at a time (>= ${(parallel * 0.7).toFixed(1)}, ${os.cpus().length} cores)`);
  const listRatio = cpu('runcell list (1000 stopped)') / cpu('runcell list (100 stopped)');
  console.log(`${listRatio <= 10 ? 'PASS' : 'FAIL'}  ${'runcell list: CPU of 1000 containers / of 100'.padEnd(52)} ${listRatio.toFixed(2).padStart(5)} <= 10`);
  const load = `load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (${os.cpus().length} cores)`;
  console.log(`\n${load}`);
  if (svgFile !== undefined) fs.writeFileSync(svgFile, targetsSvg(targets, load));
}

// One bar per target: the measured ratio (wall, filled; CPU, a tick) against its limit (a line).
function targetsSvg(targets, note) {
  const rowHeight = 22, left = 330, width = 360, top = 30, max = Math.max(6, ...targets.map((t) => Math.max(t.value, t.cpuValue ?? 0)));
  const x = (v) => Math.round((left + (Math.min(v, max) / max) * width) * 10) / 10;
  const esc = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const rows = targets.map((t, i) => {
    const y = top + i * rowHeight;
    const colour = t.value <= t.limit ? '#3a7d44' : '#c0392b';
    return [
      `<text x="${left - 8}" y="${y + 14}" text-anchor="end">${esc(t.what)}</text>`,
      `<rect x="${left}" y="${y + 3}" width="${x(t.value) - left}" height="14" fill="${colour}" opacity="0.8"/>`,
      t.cpuValue === undefined ? '' : `<rect x="${x(t.cpuValue) - 1}" y="${y + 1}" width="2" height="18" fill="#222"/>`,
      `<line x1="${x(t.limit)}" y1="${y}" x2="${x(t.limit)}" y2="${y + 20}" stroke="#222" stroke-dasharray="3,2"/>`,
      `<text x="${Math.min(x(t.value), left + width) + 6}" y="${y + 14}">${t.value.toFixed(2)}</text>`,
    ].join('');
  });
  const height = top + targets.length * rowHeight + 40;
  const ticks = Array.from({ length: Math.floor(max) + 1 }, (_, v) => `<line x1="${x(v)}" y1="${top - 4}" x2="${x(v)}" y2="${height - 40}" stroke="#ddd"/><text x="${x(v)}" y="${top - 8}" text-anchor="middle">${v}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 60}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>${ticks.join('')}
${rows.join('\n')}
<text x="10" y="${height - 20}">ratio (bar: wall-clock median; black tick: CPU; dashed: the target). ${esc(note)}</text>
</svg>
`;
}

await main();
