// The differential conformance harness: one config, two runtimes. For a matrix entry it makes
// a bundle for each runtime (a busybox root filesystem with the probe in it, runc's own default
// spec adjusted by the entry), runs it under `runc run` and under `runcell run` (the runcell
// built in this tree), parses what the probe printed, and compares the two reports field by
// field (compare.ts). runc is the oracle: where it fails, runcell must fail too.
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI, PROJECT_ROOT, childEnv, commandExists, isRoot } from '../helpers/env';
import { compareReports, type Difference, type ProbeReport } from './compare';
import { withoutExpectedDifferences } from './expected-differences';

export const PROBE = path.join(PROJECT_ROOT, 'build', 'Release', 'runcell-probe');
const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'ls', 'cat', 'echo', 'true', 'mount', 'id', 'env'];
/** Where the probe lives in every image: outside anything a matrix entry mounts over. */
export const PROBE_IN_IMAGE = '/probe';
/** Per run; a hung runtime is killed after this (a probe run takes well under a second). */
const RUN_TIMEOUT_MS = 30_000;

export type Runtime = 'runc' | 'runcell';

/** Why the matrix cannot run here, or null. */
export function whyNoConformance(): string | null {
  if (!isRoot) return 'needs root (namespaces, mounts)';
  if (!fs.existsSync(BUSYBOX)) return 'needs busybox-static (apt-get install -y busybox-static)';
  if (!commandExists('runc')) return 'needs runc as the reference (apt-get install -y runc)';
  return null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Spec = any;

/** What an entry's set-up and edit get: one runtime's side of the entry. */
export interface EntryContext {
  runtime: Runtime;
  /** This runtime's directory: the bundle and every host-side source of the entry live here. */
  dir: string;
  bundle: string;
  rootfs: string;
  containerId: string;
  /** Values the set-up hands to the edit (e.g. the path of a mount namespace to join). */
  vars: Record<string, string>;
  /** A clean-up to run after this runtime's container (unmount a host mount, kill a process). */
  defer(cleanup: () => void | Promise<void>): void;
}

export interface MatrixEntry {
  /** The test's name: the spec field or mount option it is about. */
  name: string;
  /** Prepares the image or host-side sources; runs once per runtime, before `edit`. */
  setup?: (ctx: EntryContext) => void | Promise<void>;
  /** Adjusts runc's default spec (whose process is already the probe). */
  edit?: (spec: Spec, ctx: EntryContext) => void;
  /** Paths for the probe to describe besides the mount destinations and the cwd. */
  paths?: string[];
  /** runc refuses this config here (why): the expected result is that runcell refuses it too. */
  runcFails?: string;
  /** This runc is wrong here, and runcell does what the spec and a later runc do (RuncBug). */
  runcBug?: RuncBug;
  /**
   * runcell refuses this config, on purpose, where runc runs it (a config runc would let harm
   * the host): why, and the error runcell must give. Not a difference of the process model
   * (expected-differences.ts), nor a bug of runc's: a choice, written down here.
   */
  runcellRefuses?: { reason: string; error: RegExp };
  /** Why the entry cannot be checked here (e.g. runc lacks the feature), or null. */
  requires?: () => string | null;
  /**
   * Run each runtime inside a mount namespace of its own, for configs that make the runtime
   * act on its caller's mount namespace (no mount namespace in the spec): whatever they mount
   * goes away with that namespace.
   */
  isolateCaller?: boolean;
}

/**
 * A bug of the runc on this machine, fixed in a later runc, where matching runc would mean
 * copying the bug. While runc is older than `fixedIn`, the entry does not compare what the bug
 * touches: `explains` takes out the differences it causes (and must take out at least one,
 * or the entry no longer describes this runc), `runcFails` says that runc fails the config
 * because of it, and `check` asserts runcell's own outcome, the fixed runc's. With a runc that
 * has the fix, the entry is compared as any other.
 */
export interface RuncBug {
  /** The bug, naming runc's issue and the fix. */
  reason: string;
  /** The first runc release with the fix. */
  fixedIn: [number, number, number];
  /** runc fails the config because of the bug (its error); runcell must run it. */
  runcFails?: string;
  /** A difference the bug causes, with runcell's value the fixed runc's. */
  explains?: (difference: Difference) => boolean;
  /** runcell's report as the fixed runc would make it: what is wrong with it, or null. */
  check?: (runcell: ProbeReport) => string | null;
}

/** Whether the runc on this machine has the bug (is older than its fix). */
export function runcHasBug(bug: RuncBug): boolean {
  const [major, minor, patch] = runcVersion();
  const [fixedMajor, fixedMinor, fixedPatch] = bug.fixedIn;
  return major !== fixedMajor ? major < fixedMajor : minor !== fixedMinor ? minor < fixedMinor : patch < fixedPatch;
}

export type Outcome =
  | { kind: 'ran'; report: ProbeReport; stderr: string }
  | { kind: 'failed'; code: number | null; signal: string | null; stderr: string; stdout: string };

export interface EntryResult {
  runc: Outcome;
  runcell: Outcome;
  /** What differs once the expected differences are taken out of runcell's report: bugs. */
  differences: Difference[];
  /** The expected differences (expected-differences.ts) that runcell's report showed. */
  expected: string[];
}

let counter = 0;
let baseSpecCache: Spec | undefined;

/** runc's own default config (`runc spec`), not runcell's copy of it. */
export function runcDefaultSpec(): Spec {
  if (baseSpecCache === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runcell-conformance-spec-'));
    try {
      execFileSync('runc', ['spec', '--bundle', dir]);
      baseSpecCache = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return structuredClone(baseSpecCache);
}

/**
 * Runs one entry under runc (the reference) and under runcell, and compares what the probe saw.
 * `against` replaces runcell, e.g. runc against itself to show that the normalisation leaves no
 * run-to-run difference.
 */
export async function runEntry(entry: MatrixEntry, against: Runtime = 'runcell'): Promise<EntryResult> {
  if (!fs.existsSync(PROBE)) throw new Error(`${PROBE} is missing: npm install builds it (node-gyp, target runcell-probe)`);
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'runcell-conformance-'));
  const n = counter++;
  try {
    const sides: Array<{ ctx: EntryContext; outcome: Outcome }> = [];
    const plan: Array<{ side: 'reference' | 'checked'; runtime: Runtime }> = [{ side: 'reference', runtime: 'runc' }, { side: 'checked', runtime: against }];
    for (const { side, runtime } of plan) {
      // Distinct ids: each side's cgroup and state are its own even if one is left behind.
      const containerId = `cf${process.pid}n${n}${side === 'reference' ? 'r' : 'c'}`;
      const dir = path.join(base, side);
      const cleanups: Array<() => void | Promise<void>> = [];
      const ctx: EntryContext = {
        runtime, dir, bundle: path.join(dir, 'bundle'), rootfs: path.join(dir, 'bundle', 'rootfs'), containerId, vars: {},
        defer: (cleanup) => cleanups.push(cleanup),
      };
      try {
        makeImage(ctx.rootfs);
        await entry.setup?.(ctx);
        const spec = runcDefaultSpec();
        spec.process.terminal = false;
        // The default cgroup path is implementation-defined (runc: the caller's cgroup plus the
        // id; runcell: /runcell/<id>); an explicit one makes the cgroup mounts comparable.
        spec.linux.cgroupsPath = `/runcell-conformance/${containerId}`;
        spec.process.args = [PROBE_IN_IMAGE];
        entry.edit?.(spec, ctx);
        spec.process.args = [PROBE_IN_IMAGE, ...probeArgs(spec, entry.paths ?? [])];
        fs.writeFileSync(path.join(ctx.bundle, 'config.json'), JSON.stringify(spec, null, 2));
        sides.push({ ctx, outcome: await runRuntime(runtime, ctx, entry.isolateCaller === true) });
      } finally {
        await deleteContainer(runtime, ctx);
        for (const cleanup of cleanups.reverse()) await cleanup();
      }
    }
    const [reference, checked] = sides;
    let expected: string[] = [];
    let judged = checked.outcome;
    if (against === 'runcell' && judged.kind === 'ran') {
      const { report, applied } = withoutExpectedDifferences(judged.report);
      judged = { ...judged, report };
      expected = applied;
    }
    return {
      runc: reference.outcome,
      runcell: checked.outcome,
      differences: compareOutcomes(reference.outcome, judged, reference.ctx, checked.ctx),
      expected,
    };
  } finally {
    unmountUnder(base);
    fs.rmSync(base, { recursive: true, force: true });
  }
}

function compareOutcomes(runc: Outcome, runcell: Outcome, runcContext: EntryContext, runcellContext: EntryContext): Difference[] {
  if (runc.kind === 'ran' && runcell.kind === 'ran') return compareReports(runc.report, runcell.report, runcContext, runcellContext);
  if (runc.kind === 'failed' && runcell.kind === 'failed') return [];
  return [{ field: 'outcome', runc: describeOutcome(runc), runcell: describeOutcome(runcell) }];
}

export function describeOutcome(outcome: Outcome): string {
  if (outcome.kind === 'ran') return 'ran';
  const status = outcome.signal !== null ? `signal ${outcome.signal}` : `exit ${outcome.code}`;
  const message = outcome.stderr.trim().split('\n').filter(Boolean).pop() ?? '';
  return `failed (${status}): ${message}`;
}

// The image: busybox-static with a few applets, the usual top-level directories, the probe.
function makeImage(rootfs: string): void {
  const bin = path.join(rootfs, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.copyFileSync(BUSYBOX, path.join(bin, 'busybox'));
  fs.chmodSync(path.join(bin, 'busybox'), 0o755);
  for (const applet of APPLETS) fs.symlinkSync('busybox', path.join(bin, applet));
  for (const d of ['proc', 'dev', 'sys', 'tmp', 'etc']) fs.mkdirSync(path.join(rootfs, d), { mode: 0o755 });
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  fs.copyFileSync(PROBE, path.join(rootfs, PROBE_IN_IMAGE));
  fs.chmodSync(path.join(rootfs, PROBE_IN_IMAGE), 0o755);
}

/** What the probe is asked to look at: the spec's masked and read-only paths, every mount
 * destination, the cwd, the entry's own paths, and the spec's sysctls. */
function probeArgs(spec: Spec, extraPaths: string[]): string[] {
  const masked: string[] = spec.linux?.maskedPaths ?? [];
  const readonly: string[] = spec.linux?.readonlyPaths ?? [];
  const paths = new Set<string>();
  for (const mount of spec.mounts ?? []) paths.add(mount.destination);
  if (spec.process.cwd) paths.add(spec.process.cwd);
  for (const p of extraPaths) paths.add(p);
  return [
    ...(masked.length > 0 ? masked.map((p) => `masked=${p}`) : ['masked=']),
    ...(readonly.length > 0 ? readonly.map((p) => `readonly=${p}`) : ['readonly=']),
    ...[...paths].map((p) => `path=${p}`),
    ...Object.keys(spec.linux?.sysctl ?? {}).map((k) => `sysctl=${k}`),
  ];
}

function runtimeCommand(runtime: Runtime, ctx: EntryContext, ...args: string[]): string[] {
  const root = path.join(ctx.dir, 'state');
  return runtime === 'runc' ? ['runc', '--root', root, ...args] : [CLI, '--root', root, ...args];
}

async function runRuntime(runtime: Runtime, ctx: EntryContext, isolateCaller: boolean): Promise<Outcome> {
  let command = runtimeCommand(runtime, ctx, 'run', '--bundle', ctx.bundle, ctx.containerId);
  if (isolateCaller) command = ['unshare', '--mount', '--propagation', 'private', '--', ...command];
  const result = await collect(command);
  if (result.code === 0 && result.signal === null) {
    try {
      return { kind: 'ran', report: JSON.parse(result.stdout) as ProbeReport, stderr: result.stderr };
    } catch (error) {
      return { kind: 'failed', code: 0, signal: null, stderr: `the probe's output does not parse (${(error as Error).message}): ${result.stdout.slice(0, 200)}`, stdout: result.stdout };
    }
  }
  return { kind: 'failed', code: result.code, signal: result.signal, stderr: result.stderr, stdout: result.stdout };
}

async function deleteContainer(runtime: Runtime, ctx: EntryContext): Promise<void> {
  // Both delete a container that `run` ended; only what a failure left needs it (and a
  // runcell command costs a Node start).
  const state = path.join(ctx.dir, 'state');
  if (!fs.existsSync(state) || fs.readdirSync(state).length === 0) return;
  await collect(runtimeCommand(runtime, ctx, 'delete', '--force', ctx.containerId));
}

interface Collected {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

// Runs a command to its exit, collecting its output; killed after RUN_TIMEOUT_MS. Done at exit,
// not when the pipes close (a container the command left behind would hold them).
function collect(command: string[]): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    let exited: { code: number | null; signal: string | null } | undefined;
    let open = 2;
    const finish = () => {
      if (exited === undefined) return;
      resolve({ ...exited, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() });
    };
    const closed = () => {
      if (--open === 0) finish();
    };
    child.stdout.once('end', closed);
    child.stderr.once('end', closed);
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      if (open === 0) return finish();
      // What it wrote before exiting is in the pipes already: drain that, do not wait for EOF.
      setImmediate(() => {
        child.stdout.read();
        child.stderr.read();
        setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          finish();
        }, 50);
      });
    });
  });
}

/** Unmounts (lazily, deepest first) whatever a failed run left mounted under `dir`. */
function unmountUnder(dir: string): void {
  const mounted = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined && (point === dir || point.startsWith(dir + '/')))
    .sort((a, b) => b.length - a.length);
  for (const point of mounted) {
    try {
      execFileSync('umount', ['--lazy', point], { stdio: 'ignore' });
    } catch {
      // Already gone with its parent.
    }
  }
}

/** The features runc reports (`runc features`), e.g. to skip what this runc lacks. */
let runcFeaturesCache: { mountOptions?: string[] } | undefined;
export function runcFeatures(): { mountOptions?: string[] } {
  if (runcFeaturesCache === undefined) {
    try {
      runcFeaturesCache = JSON.parse(execFileSync('runc', ['features'], { encoding: 'utf8' }));
    } catch {
      runcFeaturesCache = {};
    }
  }
  return runcFeaturesCache!;
}

/** runc's version as numbers ([1, 1, 5] for "runc version 1.1.5+ds1"). */
let runcVersionCache: number[] | undefined;
export function runcVersion(): number[] {
  if (runcVersionCache === undefined) {
    const line = execFileSync('runc', ['--version'], { encoding: 'utf8' }).split('\n')[0];
    runcVersionCache = (/(\d+)\.(\d+)\.(\d+)/.exec(line) ?? []).slice(1).map(Number);
  }
  return runcVersionCache;
}

export function runcVersionAtLeast(major: number, minor: number): boolean {
  const [a = 0, b = 0] = runcVersion();
  return a > major || (a === major && b >= minor);
}

/** A host-side mount for an entry (bind source with a submount, a shared mount, ...),
 * unmounted after the runtime's container. */
export function hostMount(ctx: EntryContext, args: string[], target: string): void {
  fs.mkdirSync(target, { recursive: true });
  execFileSync('mount', [...args, target]);
  ctx.defer(() => {
    execFileSync('umount', ['--recursive', '--lazy', target]);
  });
}

/** Makes a host mount shared (`mount --make-shared`): the container's copy is then a peer or a
 * slave of it, depending on the propagation asked for. */
export function makeShared(target: string): void {
  execFileSync('mount', ['--make-shared', target]);
}
