// Builds dist/cli-main.js, the CLI and the library bundled together, so a command costs one
// file read instead of dozens of module resolutions; its V8 code cache dist/cli-main.cache; and
// dist/cli.js, the loader that bin/runcell starts (src/cli/loader.ts). Commands import the
// library lazily (await import), which esbuild turns into lazy module initialisation, so `spec`
// never loads the addon. Run by `npm run build` (and so by `npm install`).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
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
  // No keepNames: identifiers are not minified, so a class or function keeps its name unless
  // esbuild renames it to avoid a clash between two modules (`register2`); keepNames' __name()
  // calls (100 to 420 per bundle) cost ~0.3 ms of every command. A class's name is read
  // (validate.ts's messages, node's printing of an error), so a renamed class fails the build
  // (renamedClasses below); a function's is not.
  keepNames: false,
  sourcemap: 'linked',
  define: { RUNCELL_COMMIT: JSON.stringify(commit()) },
  logLevel: 'warning',
  // The D-Bus client of --systemd-cgroup stays a require() of the installed package: loaded
  // from node_modules, only by a container that uses systemd (src/container/systemd.ts).
  external: ['dbus-next'],
};

// commander loads node:child_process (and with it net and stream: ~3 ms of every command) only
// to run executable subcommands, which runcell has none of: it is loaded when first used.
const lazyChildProcess = {
  name: 'commander-lazy-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
      const eager = "const childProcess = require('node:child_process');";
      const source = fs.readFileSync(args.path, 'utf8');
      if (!source.includes(eager)) throw new Error(`${args.path}: no "${eager}" to make lazy (a new commander?)`);
      return { contents: source.replace(eager, "const childProcess = { get spawn() { return require('node:child_process').spawn; } };"), loader: 'js' };
    });
  },
};

// The CLI's bundles: the whole CLI, and the small ones of the verbs that need little
// (src/cli/command-line.ts, SMALL_BUNDLES, says which verb loads which). Each has its code
// cache, taken after a command that runs what its commands share, on a stopped container of a
// scratch root (the benchmark's fixture: a record as create writes it), or, for start, exec and
// delete, on a real container ('created', 'exec', 'stopped'): their own work is most of their code
// (delete's from a real container: ~0.8 ms of CPU less per delete than from the fixture).
// The caches of kill and state from a running container were measured: no difference; nor
// for `list` from a cache taken after `list` (and `state` lost 0.4 ms with it).
// `create` and `run` have a bundle of their own too (without the other commands: 250 KB of the
// whole CLI's 350), with a cache taken after a real container's create, start and delete (most
// of create's code runs only there: the launch plan, the cgroup, the gofer; a cache without it
// left ~7 ms of compiling to every create).
// A bundle of several verbs gets a run of each, one after the other: each run loads the cache
// the one before wrote and writes it again with what it compiled itself, so the cache ends up
// holding every verb's code (`list` 0.4 ms faster from the query bundle's, `state` as fast).
const BUNDLES = [
  { name: 'main', entry: 'src/cli/run.ts', warmUps: [['events', '--stats', 'code-cache']] },
  { name: 'exec', entry: 'src/cli/entries/exec.ts', warmUps: ['exec'] },
  { name: 'create', entry: 'src/cli/entries/create.ts', warmUps: ['container'] },
  { name: 'query', entry: 'src/cli/entries/query.ts', warmUps: [['state', 'code-cache'], ['list']] },
  // kill, ps, pause and resume of a running container ('running'), where pause and resume
  // freeze and thaw its cgroup (their code was compiled at every pause and resume from a cache
  // made on the stopped fixture, which they refuse: ~0.5 ms of each).
  { name: 'control', entry: 'src/cli/entries/control.ts', warmUps: ['running'] },
  { name: 'delete', entry: 'src/cli/entries/delete.ts', warmUps: ['stopped'] },
  { name: 'start', entry: 'src/cli/entries/start.ts', warmUps: ['created'] },
];
const { SMALL_BUNDLES } = createRequire(import.meta.url)(path.join(root, 'dist/cli/command-line.js'));
const { drawCheapSeed } = createRequire(import.meta.url)(path.join(root, 'dist/cli/hash-seed.js'));
for (const name of new Set(Object.values(SMALL_BUNDLES))) {
  if (!BUNDLES.some((b) => b.name === name)) throw new Error(`command-line.ts names a bundle '${name}' that bundle.mjs does not build`);
}
for (const { name, entry } of BUNDLES) await bundleCli(path.join(root, `dist/cli-${name}.js`), path.join(root, entry));
const loader = path.join(root, 'dist/cli.js');
await build({ ...common, sourcemap: false, entryPoints: [path.join(root, 'src/cli/loader.ts')], outfile: loader });
fs.writeFileSync(loader, plainBuiltins(fs.readFileSync(loader, 'utf8'), loader));
// This install's V8 hash seed, which bin/runcell passes to node (src/cli/hash-seed.ts says why
// and how it is drawn). Written before the code caches are made: V8 accepts a cache only from a
// process with the same flags, --hash-seed=<this seed> included.
fs.writeFileSync(path.join(root, 'dist/hash-seed'), `${drawCheapSeed()}\n`);
for (const { name, warmUps } of BUNDLES) {
  const cache = path.join(root, `dist/cli-${name}.cache`);
  fs.rmSync(cache, { force: true });
  for (const warmUp of warmUps) makeCodeCache(cache, warmUp);
  if (!fs.existsSync(cache)) console.warn(`bundle: no code cache made (${cache}); the CLI starts slower`);
}

async function bundleCli(outfile, entry) {
  await build({
    ...common, entryPoints: [entry], outfile, plugins: [lazyChildProcess],
    // import() of a built-in becomes a require: the loader's vm.Script then needs no dynamic
    // import callback (registering one costs ~1 ms).
    supported: { 'dynamic-import': false },
  });
  // Two rewrites of the bundle's requires of Node built-ins, each worth ~2 ms of every command.
  // - plainBuiltins: made ~50 times at start-up.
  // - child_process, crypto (pid files' temp names), net and readline (each with stream: crypto
  //   alone is ~4 ms) are needed by few commands (create, exec, hooks) but required by modules
  //   that most commands load: each is loaded on its first use, through a proxy (a function
  //   declaration, so hoisted: it is appended after the last line). Same length too.
  const LAZY_BUILTINS = ['node:child_process', 'node:crypto', 'node:net', 'node:readline'];
  const LAZY_HELPER = 'function __lazy(id,m){return new Proxy({},{get:(_,key)=>(m??=require(id))[key]})}';
  let bundled = plainBuiltins(fs.readFileSync(outfile, 'utf8'), outfile);
  const renamed = renamedClasses(bundled);
  if (renamed.length > 0) throw new Error(`${outfile}: classes renamed by the bundling (their .name changes): ${renamed.join(', ')}`);
  for (const id of LAZY_BUILTINS) bundled = bundled.replaceAll(`require("${id}")`, `__lazy("${id}") `);
  bundled += `${LAZY_HELPER}\n`;
  fs.writeFileSync(outfile, bundled);
  // The build id that ties the code cache to this bundle (see loader.ts).
  fs.appendFileSync(outfile, `//# runcell-build ${createHash('sha256').update(bundled).digest('hex')}\n`);
}

// Classes that esbuild renamed (`class Foo2` or `Foo2=class` where two modules declare a
// `Foo`): none of our classes' names ends in a digit, so any such name is one. commander's are
// renamed in every bundle (its index.js declares them again); their names are read only by
// CommanderError's `this.name = this.constructor.name`, and program.ts tells commander's
// errors by instanceof, never printing their name (commander reported them already).
function renamedClasses(text) {
  const COMMANDER_CLASSES = ['CommanderError2', 'InvalidArgumentError2', 'Argument2', 'Help2', 'Option2', 'Command2'];
  const names = [...text.matchAll(/\bclass ([A-Za-z_$][\w$]*\d)\b|\b([A-Za-z_$][\w$]*\d)=class\b/g)].map((m) => m[1] ?? m[2]);
  return [...new Set(names)].filter((name) => !COMMANDER_CLASSES.includes(name));
}

// `import * as fs` of a built-in becomes __toESM(require("node:fs")), a copy of every export as
// a getter; the module object itself serves the same reads (no code here reads a built-in's
// `.default`, which is all the copy adds; checked). The text keeps its length (spaces pad it),
// so that a source map still fits.
function plainBuiltins(text, file) {
  return text.replace(/(\w+)=__toESM\(require\("(node:[\w/]+)"\)\)/g, (whole, name, id) => {
    if (new RegExp(`\\b${name}\\.default\\b`).test(text)) throw new Error(`${file}: ${name}.default of ${id} is read: keep its __toESM`);
    return `${name}=require("${id}")`.padEnd(whole.length);
  });
}

function makeCodeCache(cache, args) {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'runcell-build-'));
  // Through the launcher: the cache is then made by the node it starts, with its flags.
  const cli = (more, env = process.env) => execFileSync(path.join(root, 'bin/runcell'), ['--root', scratch, ...more],
    { env, stdio: 'ignore' });
  // A host-unique id: a real container's cgroup is host-wide.
  const id = `runcell-build-${process.pid}`;
  try {
    if (args === 'running') {
      warmUpOnRunning(scratch, id, cli, cache);
      return;
    }
    if (args === 'container' || args === 'created' || args === 'stopped' || args === 'exec') {
      // runc's default spec over a root filesystem that holds only its process, an empty file
      // with the execute bit: create accepts it (it checks that the process is an executable
      // file), its execve at start fails (ENOEXEC), so create, start's failure and run's delete
      // all run. Without root (or without cgroups) create fails early, and the cache holds what
      // ran up to there.
      const bundle = path.join(scratch, 'bundle');
      fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
      fs.writeFileSync(path.join(bundle, 'rootfs/runcell-code-cache'), '', { mode: 0o755 });
      const spec = createRequire(import.meta.url)(path.join(root, 'dist/oci/default-spec.js')).defaultSpec();
      spec.process.terminal = false;
      spec.process.args = ['/runcell-code-cache'];
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
      if (args === 'container') {
        args = ['run', '-b', bundle, id];
      } else {
        // start's cache, from the start of a container that create made; exec's, from an exec
        // into it (its init is alive, waiting for start: exec runs up to the execve, ~2 ms of
        // CPU per exec less than a cache from an exec refused by a stopped container);
        // delete's, from the delete of one whose start failed (stopped, as the benchmark's).
        // Neither create nor that start writes a cache. Should they fail (no root), the
        // command below fails early and its cache holds what ran up to there.
        const warmUp = args;
        try {
          cli(['create', '-b', bundle, id]);
          if (warmUp === 'stopped') cli(['start', id]);
        } catch { /* as said */ }
        args = { created: ['start', id], exec: ['exec', id, '/runcell-code-cache'], stopped: ['delete', id] }[warmUp];
      }
    } else {
      createRequire(import.meta.url)(path.join(root, 'dist/bench/fixture.js')).createBenchContainer(scratch, 'code-cache');
    }
    cli(args, { ...process.env, RUNCELL_WRITE_CODE_CACHE: cache });
  } catch {
    // Some of these commands fail, as they should (kill or exec of a stopped container, start
    // or run of a process that cannot be executed); the cache is written all the same.
  } finally {
    try {
      if (args === 'running' || args.includes(id)) cli(['delete', '--force', id]);
    } catch { /* nothing was left */ }
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

// The control bundle's cache: its verbs, one after the other, on a running container, a sleep
// of the host's busybox (static, as distributions package it) over a root filesystem of it
// alone. Without busybox, root or cgroups, on the stopped fixture (pause and resume refuse it:
// their freezing is compiled when first used).
function warmUpOnRunning(scratch, id, cli, cache) {
  let target = id;
  try {
    const busybox = execFileSync('sh', ['-c', 'command -v busybox'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const bundle = path.join(scratch, 'bundle');
    fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
    fs.copyFileSync(busybox, path.join(bundle, 'rootfs/busybox'));
    fs.chmodSync(path.join(bundle, 'rootfs/busybox'), 0o755);
    const spec = createRequire(import.meta.url)(path.join(root, 'dist/oci/default-spec.js')).defaultSpec();
    spec.process.terminal = false;
    spec.process.args = ['/busybox', 'sleep', '1000'];
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
    cli(['create', '-b', bundle, id]);
    cli(['start', id]);
  } catch {
    createRequire(import.meta.url)(path.join(root, 'dist/bench/fixture.js')).createBenchContainer(scratch, 'code-cache');
    target = 'code-cache';
  }
  for (const verb of [['kill', target, 'SIGWINCH'], ['ps', target], ['pause', target], ['resume', target]]) {
    try {
      cli(verb, { ...process.env, RUNCELL_WRITE_CODE_CACHE: cache });
    } catch { /* refused (the fixture is stopped): the cache is written all the same */ }
  }
}

// The worker processes of `runcell bench locks`: started dozens at a time, so bundled too.
await build({ ...common, entryPoints: [path.join(root, 'src/bench/worker.ts')], outfile: path.join(root, 'dist/bench-worker.js') });
