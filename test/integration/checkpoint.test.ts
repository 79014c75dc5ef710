// checkpoint and restore with CRIU: a counting container checkpointed and restored under a new
// id counts on from where it stopped; --leave-running; one image restored twice; state, wait,
// exec, kill and delete on a restored container; a checkpoint killed half-way; bad input. As
// root, with a CRIU new enough for this kernel (test/helpers/criu.ts).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isProcessAlive, processStartTime, StateFile, type ContainerRecord } from '../../src';
import { childEnv, CLI, commandExists, runcell, useScratch, waitFor } from '../helpers/env';
import { makeBundle, whyNoContainers } from '../helpers/bundle';
import { findCriu } from '../helpers/criu';
import { consoleReceiver } from '../helpers/console';

// Ids unique to this run: cgroups are the host's, shared with other runs.
const ID = (name: string) => `${name}-${process.pid}`;
const noContainers = whyNoContainers();
const criu = noContainers === null ? findCriu() : { path: null, why: '' };
const skip = noContainers ?? (criu.path === null ? criu.why : null);

let dir: string;
let root: string;
useScratch((d, r) => {
  dir = d;
  root = r;
});

const rc = (...args: string[]) => runcell(['--root', root, '--criu', criu.path ?? 'criu', ...args]);

/**
 * For commands that leave a container running (run -d, restore -d): stdio /dev/null, which the
 * container keeps (the sockets of Node's 'pipe' stdio are of the test's network namespace, which
 * CRIU cannot dump: refused, see below), errors through --log. What it logged is its stderr.
 */
async function rcDetached(...args: string[]): Promise<{ code: number | null; stderr: string }> {
  const logFile = path.join(dir, `cli-${Math.random()}.log`);
  const cli = spawn(CLI, ['--root', root, '--criu', criu.path ?? 'criu', '--log', logFile, ...args], { env: childEnv(), stdio: 'ignore' });
  const code = await new Promise<number | null>((resolve) => cli.once('exit', (c) => resolve(c)));
  return { code, stderr: fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '' };
}
const stateOf = async (id: string) => JSON.parse((await rc('state', id)).stdout) as { status: string; pid: number };
const recordOf = (id: string) => new StateFile<ContainerRecord>(root, { containerId: id, sandboxId: id }).load();

// Counts from 1, a line a number, into /out/log: a bind mount of the bundle's own `out`.
const COUNTER = ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i >> /out/log; sleep 0.05; done'];

function counterBundle(name: string): { bundle: string; log: string } {
  const bundle = path.join(dir, name);
  fs.mkdirSync(path.join(bundle, 'out'), { recursive: true });
  makeBundle(bundle, COUNTER, (spec) => {
    spec.mounts.push({ destination: '/out', type: 'bind', source: path.join(bundle, 'out'), options: ['rbind', 'rw'] });
  });
  return { bundle, log: path.join(bundle, 'out', 'log') };
}

const numbers = (log: string) => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '').split('\n').filter((l) => l !== '').map(Number);
const last = (log: string) => numbers(log).at(-1) ?? 0;

/** Waits until the log has gone past `n`. */
const countsPast = (log: string, n: number) => waitFor(() => last(log) > n, `${log} to count past ${n}`);

/** Every number from `from` on, each once, in order: the count went on without a gap or a repeat. */
function expectConsecutive(values: number[], from: number): void {
  expect(values.length).toBeGreaterThan(0);
  expect(values).toEqual(values.map((_, i) => from + i));
}

async function runCounter(id: string, name = 'bundle'): Promise<{ bundle: string; log: string }> {
  const counter = counterBundle(name);
  expect(await rcDetached('run', '-d', '-b', counter.bundle, id)).toEqual({ code: 0, stderr: '' });
  await countsPast(counter.log, 3);
  return counter;
}

describe.skipIf(skip !== null)(`checkpoint and restore${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('a counting container checkpointed and restored under a new id counts on from where it stopped', async () => {
    const { bundle, log } = await runCounter(ID('orig'));
    const images = path.join(dir, 'images');
    expect(await rc('checkpoint', '--image-path', images, ID('orig'))).toMatchObject({ code: 0, stderr: '' });
    // As runc: the original is stopped, and still recorded.
    expect(await stateOf(ID('orig'))).toMatchObject({ status: 'stopped', pid: 0 });
    const stopped = last(log);
    expect(numbers(log)).toEqual(Array.from({ length: stopped }, (_, i) => i + 1));
    expect(JSON.parse(fs.readFileSync(path.join(images, 'descriptors.json'), 'utf8'))).toHaveLength(3);

    expect(await rcDetached('restore', '-d', '--image-path', images, '-b', bundle, '--pid-file', path.join(dir, 'pid'), ID('copy')))
      .toEqual({ code: 0, stderr: '' });
    await countsPast(log, stopped + 3);
    // Every number once: the restored process went on from its own count, not from 1.
    expectConsecutive(numbers(log), 1);

    // Its state names a live reaper (the pid file's) and the restored process, in a new cgroup.
    const state = await stateOf(ID('copy'));
    expect(state.status).toBe('running');
    expect(Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8'))).toBe(state.pid);
    const record = recordOf(ID('copy'));
    expect(record.init!.pid).toBe(state.pid);
    expect(isProcessAlive(record.gofer!.pid, record.gofer!.startTime)).toBe(true);
    expect(fs.readFileSync(`/proc/${record.user!.pid}/status`, 'utf8')).toMatch(new RegExp(`^PPid:\\s+${state.pid}$`, 'm'));
    expect(fs.readFileSync(`/proc/${record.user!.pid}/cgroup`, 'utf8')).toContain(`/runcell/${ID('copy')}`);
    expect((await rc('ps', ID('copy'))).stdout).toContain(String(record.user!.pid));
    // CRIU made no cgroup but the container's: none below it, none in a hierarchy where runcell
    // makes none (name=systemd), and left no mount of its work on the host.
    for (const hierarchy of fs.readdirSync('/sys/fs/cgroup')) {
      const own = `/sys/fs/cgroup/${hierarchy}/runcell/${ID('copy')}`;
      if (fs.existsSync(own)) expect(fs.readdirSync(own, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
    }
    expect(fs.existsSync(`/sys/fs/cgroup/systemd/runcell/${ID('copy')}`)).toBe(false);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toMatch(/cgyard|\.criu\./);

    // exec joins the restored process's namespaces: its pid namespace, where it is pid 1.
    expect((await rc('exec', ID('copy'), 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "')).stdout).toBe(`${COUNTER.slice(0, 2).join(' ')} ${COUNTER[2]} `);
    expect((await rc('exec', ID('copy'), 'sh', '-c', 'exit 3')).code).toBe(3);

    // kill, wait and delete, as for any container (its sh is pid 1 of its namespace: it
    // ignores SIGTERM, as under runc).
    expect(await rc('kill', ID('copy'), 'KILL')).toMatchObject({ code: 0 });
    expect(JSON.parse((await rc('wait', ID('copy'))).stdout)).toEqual({ id: ID('copy'), exitStatus: 137 });
    expect(await stateOf(ID('copy'))).toMatchObject({ status: 'stopped' });
    expect(await rc('delete', ID('copy'))).toMatchObject({ code: 0, stderr: '' });
    expect(isProcessAlive(record.gofer!.pid, record.gofer!.startTime)).toBe(false);
    expect(fs.existsSync(`/sys/fs/cgroup/pids/runcell/${ID('copy')}`) || fs.existsSync(`/sys/fs/cgroup/runcell/${ID('copy')}`)).toBe(false);
    expect(await rc('delete', ID('orig'))).toMatchObject({ code: 0 });
  });

  it('--leave-running keeps the original counting; one image restored twice gives two containers', async () => {
    const { log } = await runCounter(ID('orig'));
    const images = path.join(dir, 'images');
    expect(await rc('checkpoint', '--leave-running', '--image-path', images, ID('orig'))).toMatchObject({ code: 0, stderr: '' });
    const at = last(log);
    expect(await stateOf(ID('orig'))).toMatchObject({ status: 'running' });
    await countsPast(log, at + 3);

    // Each restore binds its own bundle's `out` (the restoring config's source, as runc): the
    // first number each writes follows the last the image had counted.
    const first = counterBundle('first');
    const second = counterBundle('second');
    expect(await rcDetached('restore', '-d', '--image-path', images, '-b', first.bundle, ID('one'))).toEqual({ code: 0, stderr: '' });
    expect(await rcDetached('restore', '-d', '--image-path', images, '-b', second.bundle, ID('two'))).toEqual({ code: 0, stderr: '' });
    await countsPast(first.log, 0);
    await countsPast(second.log, 0);
    const imaged = numbers(first.log)[0] - 1;
    expect(imaged).toBeGreaterThanOrEqual(at - 1); // the image's count: the original's when it was taken
    expect(imaged).toBeLessThanOrEqual(at);
    await countsPast(first.log, imaged + 3);
    await countsPast(second.log, imaged + 3);
    expectConsecutive(numbers(first.log), imaged + 1);
    expectConsecutive(numbers(second.log), imaged + 1);
    const listed = (await rc('list', '-q')).stdout.trim().split('\n').sort();
    expect(listed).toEqual([ID('one'), ID('orig'), ID('two')]);
    expect(recordOf(ID('one')).user!.pid).not.toBe(recordOf(ID('two')).user!.pid);
    // delete --force stops a running restored container.
    expect(await rc('delete', '--force', ID('one'), ID('two'), ID('orig'))).toMatchObject({ code: 0 });
    expect(await rc('list', '-q')).toMatchObject({ stdout: '' });
  });

  it('the restored container sees what the original saw: its mounts, hostname, and its own cgroup as the root of its cgroup namespace', async () => {
    const counter = counterBundle('seen');
    makeBundle(counter.bundle, COUNTER, (spec) => {
      spec.hostname = 'counter';
      spec.linux.namespaces.push({ type: 'cgroup' });
      spec.mounts.push({ destination: '/out', type: 'bind', source: path.join(counter.bundle, 'out'), options: ['rbind', 'rw'] });
    });
    expect(await rcDetached('run', '-d', '-b', counter.bundle, ID('orig'))).toEqual({ code: 0, stderr: '' });
    await countsPast(counter.log, 3);
    // What the container sees: its mounts (where, what, how), its hostname, its cgroups.
    const seen = async (id: string) => {
      const result = await rc('exec', id, 'sh', '-c', 'cat /proc/self/mountinfo; hostname; cat /proc/self/cgroup');
      expect(result).toMatchObject({ code: 0, stderr: '' });
      return result.stdout.split('\n').map((line) => {
        const fields = line.split(' ');
        // mountinfo: mount point, file system, options and root; not the ids, which differ.
        return fields.length > 6 ? [fields[4], fields[fields.indexOf('-') + 1], fields[5], fields[3]].join(' ') : line;
      }).sort();
    };
    const before = await seen(ID('orig'));
    expect(before).toContain('counter');
    expect(before.filter((line) => /^\d+:/.test(line)).every((line) => line.endsWith(':/'))).toBe(true);
    const images = path.join(dir, 'images');
    expect(await rc('checkpoint', '--leave-running', '--image-path', images, ID('orig'))).toMatchObject({ code: 0, stderr: '' });
    expect(await rcDetached('restore', '-d', '--image-path', images, '-b', counter.bundle, ID('copy'))).toEqual({ code: 0, stderr: '' });
    expect(await seen(ID('copy'))).toEqual(before);
    // Its cgroup namespace is rooted at its own new cgroup, not the original's.
    const user = recordOf(ID('copy')).user!.pid;
    expect(fs.readFileSync(`/proc/${user}/cgroup`, 'utf8')).toContain(`/runcell/${ID('copy')}`);
  });

  it('a paused container is checkpointed through its frozen cgroup (containerd pauses first): it stays paused with --leave-running', async () => {
    const { log } = await runCounter(ID('orig'));
    expect(await rc('pause', ID('orig'))).toMatchObject({ code: 0 });
    const images = path.join(dir, 'images');
    expect(await rc('checkpoint', '--leave-running', '--image-path', images, ID('orig'))).toMatchObject({ code: 0, stderr: '' });
    expect(await stateOf(ID('orig'))).toMatchObject({ status: 'paused' });
    const at = last(log);
    expect(await rc('resume', ID('orig'))).toMatchObject({ code: 0 });
    await countsPast(log, at + 2);
    // Without --leave-running: thawed for the tree to go, and stopped.
    expect(await rc('pause', ID('orig'))).toMatchObject({ code: 0 });
    expect(await rc('checkpoint', '--image-path', path.join(dir, 'again'), ID('orig'))).toMatchObject({ code: 0, stderr: '' });
    expect(await stateOf(ID('orig'))).toMatchObject({ status: 'stopped' });
    // The first image restores, counting on from the paused count.
    const copy = counterBundle('copy');
    expect(await rcDetached('restore', '-d', '--image-path', images, '-b', copy.bundle, ID('copy'))).toEqual({ code: 0, stderr: '' });
    await countsPast(copy.log, 2);
    expectConsecutive(numbers(copy.log), numbers(copy.log)[0]);
    expect(numbers(copy.log)[0]).toBe(at + 1);
  });

  /**
   * A counting container with a terminal, under `runtime` (runcell, or runc as the oracle): run
   * with a console socket, checkpointed, restored with another. What the restored process has
   * as stdio, and what its new terminal's listener got.
   */
  async function terminalRoundTrip(runtime: 'runcell' | 'runc'): Promise<{ fds: string; payload: string; end: string; shown: number[]; stopped: number }> {
    const runtimeRoot = path.join(dir, `${runtime}-root`);
    const cli = async (...args: string[]) => {
      const logFile = path.join(dir, `${runtime}-${Math.random()}.log`);
      const child = spawn(runtime === 'runcell' ? CLI : 'runc', ['--root', runtimeRoot, '--criu', criu.path!, '--log', logFile, ...args],
        { env: childEnv(), stdio: ['ignore', 'pipe', 'ignore'] });
      let stdout = '';
      child.stdout!.on('data', (chunk) => (stdout += chunk));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      // runc logs at info level too: only its errors count.
      return { code, stdout, stderr: runtime === 'runc' ? log.split('\n').filter((l) => /level=error/.test(l)).join('\n') : log };
    };
    // Counts into /out/log and onto its terminal.
    const counter = counterBundle(`tty-${runtime}`);
    makeBundle(counter.bundle, ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i >> /out/log; echo "n=$i"; sleep 0.05; done'], (spec) => {
      spec.process.terminal = true;
      spec.mounts.push({ destination: '/out', type: 'bind', source: path.join(counter.bundle, 'out'), options: ['rbind', 'rw'] });
    });
    const first = consoleReceiver(path.join(dir, `${runtime}-1.sock`), '');
    await first.listening;
    expect(await cli('run', '-d', '--console-socket', path.join(dir, `${runtime}-1.sock`), '-b', counter.bundle, ID('orig'))).toMatchObject({ code: 0, stderr: '' });
    await countsPast(counter.log, 3);
    const images = path.join(dir, `${runtime}-images`);
    expect(await cli('checkpoint', '--image-path', images, ID('orig'))).toMatchObject({ code: 0, stderr: '' });
    const stopped = last(counter.log);
    // The old terminal's slave went with the checkpointed process.
    expect(await first.output).toContain('end=eio');
    if (runtime === 'runcell') {
      expect(JSON.parse(fs.readFileSync(path.join(images, 'runcell.json'), 'utf8'))).toMatchObject({ terminal: true, stdio: [null, null, null] });
      // Refused without a console socket, with nothing left.
      expect(await cli('restore', '-d', '--image-path', images, '-b', counter.bundle, ID('copy')))
        .toMatchObject({ code: 1, stderr: expect.stringContaining('the checkpoint holds a terminal: give --console-socket') });
      expect((await cli('list', '-q')).stdout).toBe(`${ID('orig')}\n`);
    }
    const second = consoleReceiver(path.join(dir, `${runtime}-2.sock`), '');
    await second.listening;
    expect(await cli('restore', '-d', '--console-socket', path.join(dir, `${runtime}-2.sock`), '--image-path', images, '-b', counter.bundle, ID('copy')))
      .toMatchObject({ code: 0, stderr: '' });
    await countsPast(counter.log, stopped + 3);
    expectConsecutive(numbers(counter.log), 1);
    const fds = (await cli('exec', ID('copy'), 'sh', '-c', 'for fd in 0 1 2; do readlink /proc/1/fd/$fd; done')).stdout;
    expect(await cli('delete', '--force', ID('copy'))).toMatchObject({ code: 0 });
    expect(await cli('delete', '--force', ID('orig'))).toMatchObject({ code: 0 });
    const text = await second.output;
    return {
      fds,
      payload: /^payload=(.*)$/m.exec(text)?.[1] ?? '',
      end: /^end=(.*)$/m.exec(text)?.[1] ?? '',
      shown: [...text.matchAll(/n=(\d+)\\r\\n/g)].map((m) => Number(m[1])),
      stopped,
    };
  }

  it('a container with a terminal: checkpointed, restored with --console-socket, it counts on through the new terminal, as under runc', async () => {
    const ours = await terminalRoundTrip('runcell');
    // The process's stdio is the same terminal of its own devpts again, made anew by CRIU.
    expect(ours.fds).toBe('/dev/pts/0\n/dev/pts/0\n/dev/pts/0\n');
    // The new terminal showed the count from where the image had it (dumped between its two
    // echoes, it shows the image's last number first) until the container was deleted.
    expect([ours.stopped, ours.stopped + 1]).toContain(ours.shown[0]);
    expectConsecutive(ours.shown, ours.shown[0]);
    expect(ours.shown.at(-1)).toBeGreaterThan(ours.stopped + 3);
    expect(ours.end).toBe('eio');
    if (!commandExists('runc')) return;
    // runc, the oracle: the same stdio, the same payload (the name runc gives CRIU's master).
    const theirs = await terminalRoundTrip('runc');
    expect({ fds: ours.fds, payload: ours.payload, end: ours.end }).toEqual({ fds: theirs.fds, payload: theirs.payload, end: theirs.end });
    expect([theirs.stopped, theirs.stopped + 1]).toContain(theirs.shown[0]);
  });

  it('a container whose stdout is a host file (`> FILE`): the file grows on, and the restore writes to its own caller\'s file', async () => {
    // Counts into /out/log and onto its stdout: a host file opened by the caller (runc's
    // external descriptor, re-attached to the restoring caller's on restore; CRIU would check
    // a dumped file's size, which the growing file no longer has).
    const counter = counterBundle('file');
    makeBundle(counter.bundle, ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i >> /out/log; echo "n=$i"; sleep 0.05; done'], (spec) => {
      spec.mounts.push({ destination: '/out', type: 'bind', source: path.join(counter.bundle, 'out'), options: ['rbind', 'rw'] });
    });
    const stdoutTo = async (file: string, ...args: string[]) => {
      const fd = fs.openSync(file, 'a');
      const logFile = path.join(dir, `cli-${Math.random()}.log`);
      try {
        const cli = spawn(CLI, ['--root', root, '--criu', criu.path!, '--log', logFile, ...args], { env: childEnv(), stdio: ['ignore', fd, 'ignore'] });
        const code = await new Promise<number | null>((resolve) => cli.once('exit', (c) => resolve(c)));
        return { code, stderr: fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '' };
      } finally {
        fs.closeSync(fd);
      }
    };
    const shown = (file: string) => [...fs.readFileSync(file, 'utf8').matchAll(/^n=(\d+)$/gm)].map((m) => Number(m[1]));
    const first = path.join(dir, 'first.out');
    expect(await stdoutTo(first, 'run', '-d', '-b', counter.bundle, ID('orig'))).toEqual({ code: 0, stderr: '' });
    await countsPast(counter.log, 3);
    const images = path.join(dir, 'images');
    expect(await rc('checkpoint', '--leave-running', '--image-path', images, ID('orig'))).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(fs.readFileSync(path.join(images, 'runcell.json'), 'utf8')).stdio[1]).toMatch(/^file\[[0-9a-f]+:[0-9a-f]+\]$/);
    expect(JSON.parse(fs.readFileSync(path.join(images, 'descriptors.json'), 'utf8'))[1]).toBe(first);
    const at = last(counter.log);
    // The original goes on writing: the file is no longer the size it had at the checkpoint.
    await waitFor(() => shown(first).at(-1)! > at + 3, `${first} to grow`);
    expect(await rc('delete', '--force', ID('orig'))).toMatchObject({ code: 0 });
    const originalLines = shown(first).length;

    // Restored twice: onto the same file (appended, as `>> FILE`), and onto a new one.
    const second = path.join(dir, 'second.out');
    const copyLog = counterBundle('file-copy').log;
    fs.mkdirSync(path.dirname(copyLog), { recursive: true });
    expect(await stdoutTo(first, 'restore', '-d', '--image-path', images, '-b', counter.bundle, ID('same'))).toEqual({ code: 0, stderr: '' });
    expect(await stdoutTo(second, 'restore', '-d', '--image-path', images, '-b', path.join(dir, 'file-copy'), ID('new'))).toEqual({ code: 0, stderr: '' });
    await countsPast(copyLog, 3);
    await waitFor(() => (shown(second).at(-1) ?? 0) > at + 3, `${second} to count past ${at + 3}`);
    // The image's count goes on in the new file, from where the image had it.
    expect([at, at + 1]).toContain(shown(second)[0]);
    expectConsecutive(shown(second), shown(second)[0]);
    // And is appended to the old one after what the original wrote there.
    await waitFor(() => shown(first).length > originalLines + 3, `${first} to show the restored count`);
    const restored = shown(first).slice(originalLines);
    expect([at, at + 1]).toContain(restored[0]);
    expectConsecutive(restored, restored[0]);
    expect(await rc('delete', '--force', ID('same'), ID('new'))).toMatchObject({ code: 0 });
  });

  it('a checkpoint killed half-way leaves the container running and its state intact', async () => {
    const { log } = await runCounter(ID('orig'));
    const before = fs.readFileSync(path.join(root, `${ID('orig')}_sandbox:${ID('orig')}.state`), 'utf8');
    const user = recordOf(ID('orig')).user!;
    const tracer = () => Number(/^TracerPid:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${user.pid}/status`, 'utf8'))![1]);
    const cli = spawn(CLI, ['--root', root, '--criu', criu.path!, 'checkpoint', '--image-path', path.join(dir, 'images'), ID('orig')],
      { env: childEnv(), stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
    // Half-way: CRIU has seized the process tree (it is the tracer) and is dumping it.
    await waitFor(() => tracer() !== 0, 'CRIU to seize the container\'s process', 20_000);
    cli.kill('SIGKILL');
    expect(await exited).toBe(null);
    // CRIU finds us gone at its next notification, gives up, and lets the tree go on.
    await waitFor(() => tracer() === 0, 'CRIU to let the container\'s process go');
    expect(isProcessAlive(user.pid, user.startTime)).toBe(true);
    const at = last(log);
    await countsPast(log, at + 3);
    expectConsecutive(numbers(log), 1);
    expect(fs.readFileSync(path.join(root, `${ID('orig')}_sandbox:${ID('orig')}.state`), 'utf8')).toBe(before);
    expect(await stateOf(ID('orig'))).toMatchObject({ status: 'running' });
    // And it can still be checkpointed.
    expect(await rc('checkpoint', '--image-path', path.join(dir, 'again'), ID('orig'))).toMatchObject({ code: 0, stderr: '' });
  });

  it('a restore killed at any instant leaves nothing that delete --force cannot remove', { timeout: 120_000 }, async () => {
    const { bundle } = await runCounter(ID('orig'));
    const images = path.join(dir, 'images');
    expect(await rc('checkpoint', '--image-path', images, ID('orig'))).toMatchObject({ code: 0, stderr: '' });
    const cgroupDir = (id: string) => `/sys/fs/cgroup/pids/runcell/${id}`;
    // A restore takes some hundreds of milliseconds here: kill it at instants spread over them.
    for (let delayMs = 0; delayMs <= 450; delayMs += 50) {
      const id = ID(`crash${delayMs}`);
      const cli = spawn(CLI, ['--root', root, '--criu', criu.path!, 'restore', '-d', '--image-path', images, '-b', bundle, id],
        { env: childEnv(), stdio: 'ignore' });
      const exited = new Promise((resolve) => cli.once('exit', resolve));
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      cli.kill('SIGKILL');
      await exited;
      // CRIU's tasks may hold a v1 cgroup FREEZING past the timeout: delete --force goes on
      // with a warning (Cgroup.signalAll); any other word on stderr is a failure.
      const deleted = await rc('delete', '--force', id);
      expect(deleted.code).toBe(0);
      expect(deleted.stderr.split('\n').filter((line) => line !== '' && !/did not become frozen in time/.test(line))).toEqual([]);
      expect(fs.readdirSync(root).filter((f) => f.startsWith(`${id}_`))).toEqual([]);
      // Its cgroup, and so every process a restore made (reaper, CRIU, the tree), is gone.
      await waitFor(() => !fs.existsSync(cgroupDir(id)), `the cgroup of ${id} to go`);
    }
    expect((await rc('list', '-q')).stdout).toBe(`${ID('orig')}\n`);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toMatch(/cgyard|\.criu\./);
    // A killed CLI could not remove its CRIU yard from the work directory (the image's): the
    // next restore there removes every one whose CLI is gone, and its own. One whose pid lives
    // on in another process (a reused pid: the start time differs) is gone too; one of a
    // restore still running (this process: pid and start time) is not touched.
    const yards = () => fs.readdirSync(images).filter((name) => name.startsWith('.runcell-cgyard-')).sort();
    const reused = `.runcell-cgyard-${process.pid}.1-zzzzzz`;
    const live = `.runcell-cgyard-${process.pid}.${processStartTime(process.pid)}-abcdef`;
    fs.mkdirSync(path.join(images, reused));
    fs.writeFileSync(path.join(images, reused, 'criu.conf'), 'cgroup-yard /nowhere\n');
    fs.mkdirSync(path.join(images, live));
    expect(await rcDetached('restore', '-d', '--image-path', images, '-b', bundle, ID('after'))).toEqual({ code: 0, stderr: '' });
    expect(yards()).toEqual([live]);
    expect(await rc('delete', '--force', ID('after'))).toMatchObject({ code: 0 });
  });

  it('bad input: a clear error, a non-zero exit, no damage', async () => {
    const { bundle } = await runCounter(ID('orig'));
    const images = path.join(dir, 'images');
    const refused = async (args: string[], message: string | RegExp) => {
      const result = await rc(...args);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(message);
    };
    await refused(['checkpoint', '--lazy-pages', '--image-path', images, ID('orig')], /--lazy-pages is not supported/);
    await refused(['checkpoint', '--pre-dump', '--image-path', images, ID('orig')], /--pre-dump is not supported/);
    await refused(['checkpoint', '--page-server', '1.2.3.4:5', '--image-path', images, ID('orig')], /--page-server is not supported/);
    await refused(['checkpoint', '--manage-cgroups-mode', 'sometimes', '--image-path', images, ID('orig')], /"sometimes" is not one of soft, full, strict, ignore/);
    await refused(['checkpoint', '--empty-ns', 'ipc', '--image-path', images, ID('orig')], /--empty-ns: "ipc"/);
    await refused(['checkpoint', '--image-path', images, 'nosuch'], /container "nosuch" does not exist/);
    // CRIU missing or too old, by name and with the version needed.
    const old = path.join(dir, 'old-criu');
    fs.writeFileSync(old, '#!/bin/sh\necho "Version: 3.0"\n', { mode: 0o755 });
    await refused(['--criu', old, 'checkpoint', '--image-path', images, ID('orig')], /CRIU ".*old-criu" is version 3\.0\.0: checkpoint and restore need CRIU \d+\.\d+ or newer/);
    await refused(['--criu', 'no-such-criu', 'checkpoint', '--image-path', images, ID('orig')], /"no-such-criu" is not in PATH: checkpoint and restore need CRIU/);
    // Created (not started): nothing to dump.
    const created = makeBundle(path.join(dir, 'created'), COUNTER);
    expect(await rcDetached('create', '-b', created, ID('created'))).toEqual({ code: 0, stderr: '' });
    await refused(['checkpoint', '--image-path', images, ID('created')], new RegExp(`cannot checkpoint container "${ID('created')}" in state created`));
    expect(await rc('delete', ID('created'))).toMatchObject({ code: 0 });
    // A container whose stdio is a socket of another network namespace (Node's 'pipe').
    const piped = counterBundle(ID('piped'));
    expect(await rc('run', '-d', '-b', piped.bundle, ID('piped'))).toMatchObject({ code: 0 });
    await refused(['checkpoint', '--image-path', path.join(dir, 'piped-images'), ID('piped')],
      new RegExp(`cannot checkpoint container "${ID('piped')}": its descriptor 1 is a socket of another network namespace`));
    expect(await stateOf(ID('piped'))).toMatchObject({ status: 'running' });
    expect(await rc('delete', '--force', ID('piped'))).toMatchObject({ code: 0 });
    // None of it touched the container.
    expect(await stateOf(ID('orig'))).toMatchObject({ status: 'running' });

    // Restore: no checkpoint there, a checkpoint whose description is damaged, an id in use.
    await refused(['restore', '-d', '--image-path', path.join(dir, 'nothing'), '-b', bundle, ID('r1')], /not a runcell checkpoint \(no runcell\.json\)/);
    expect(await rc('checkpoint', '--leave-running', '--image-path', images, ID('orig'))).toMatchObject({ code: 0 });
    await refused(['restore', '-d', '--image-path', images, '-b', bundle, ID('orig')], new RegExp(`container "${ID('orig')}" already exists`));
    await refused(['restore', '-d', '--console-socket', path.join(dir, 'sock'), '--image-path', images, '-b', bundle, ID('r1')], /--console-socket: the checkpoint holds no terminal to send/);
    await refused(['restore', '--lsm-profile', 'apparmor:x', '--image-path', images, '-b', bundle, ID('r1')], /--lsm-profile is not supported/);
    // A restoring config without the checkpoint's bind mount: refused by name, nothing left.
    const bare = makeBundle(path.join(dir, 'bare'), COUNTER);
    await refused(['restore', '-d', '--image-path', images, '-b', bare, ID('r1')], /config\.mounts: the checkpoint has a bind mount on "\/out"/);
    const description = path.join(images, 'runcell.json');
    fs.writeFileSync(description, JSON.stringify({ ...JSON.parse(fs.readFileSync(description, 'utf8')), stdio: ['/etc/passwd', null, null] }));
    await refused(['restore', '-d', '--image-path', images, '-b', bundle, ID('r1')], /"stdio" is not three descriptor keys/);
    expect((await rc('list', '-q')).stdout).toBe(`${ID('orig')}\n`);
    expect(fs.existsSync(`/sys/fs/cgroup/pids/runcell/${ID('r1')}`)).toBe(false);
    expect(await stateOf(ID('orig'))).toMatchObject({ status: 'running' });
  });
});
