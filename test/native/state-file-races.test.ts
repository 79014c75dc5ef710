// StateFile across processes: the races runsc loses (runsc.md B, weaknesses 1 to 3).
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateFile } from '../../src';
import { sleep, startWorker, tempDir, waitFor } from '../helpers/env';

let dir: string;
let root: string;
const children: ChildProcess[] = [];

beforeEach(() => {
  dir = tempDir();
  root = path.join(dir, 'root');
  fs.mkdirSync(root);
});

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

function worker(name: string, args: string[]): ChildProcess {
  const child = startWorker(name, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  return child;
}

/** Resolves with each line the child prints, in order, as they come. */
function lines(child: ChildProcess): () => Promise<string> {
  const queue: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  let buffer = '';
  child.stdout!.on('data', (chunk) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else queue.push(line);
    }
  });
  return () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve)));
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once('exit', () => resolve()));

/**
 * Is the process blocked in flock, on the file `onFile` if given? /proc/locks lists a waiter
 * with "->", and the file as major:minor:inode.
 */
function isBlockedOnLock(pid: number, onFile?: string): boolean {
  const inode = onFile === undefined ? '\\d+' : String(fs.statSync(onFile).ino);
  return new RegExp(`^\\d+: -> FLOCK\\s+ADVISORY\\s+\\w+\\s+${pid} [0-9a-f]+:[0-9a-f]+:${inode} `, 'm')
    .test(fs.readFileSync('/proc/locks', 'utf8'));
}

const blockedOnLock = (pid: number) => waitFor(() => isBlockedOnLock(pid), `process ${pid} to wait for a lock`);

describe('StateFile across processes', () => {
  it('16 processes race lockForNew on one id: exactly one wins and its state is intact', async () => {
    const racers = Array.from({ length: 16 }, (_, i) => worker('race-create', [root, 'contested', `p${i}`]));
    const readers = racers.map(lines);
    expect(await Promise.all(readers.map((next) => next()))).toEqual(Array(16).fill('ready'));
    for (const racer of racers) racer.stdin!.write('go\n'); // the start barrier
    const outcomes = await Promise.all(readers.map((next) => next()));
    const winners = outcomes.flatMap((outcome, i) => (outcome === 'won' ? [`p${i}`] : []));
    expect(outcomes.filter((o) => o !== 'won' && o !== 'exists')).toEqual([]);
    expect(winners).toHaveLength(1);
    const state = new StateFile(root, { containerId: 'contested', sandboxId: 'contested' }).load();
    expect(state).toEqual({ owner: winners[0], step: 2 });
    expect(fs.readdirSync(root).sort()).toEqual(['contested_sandbox:contested.lock', 'contested_sandbox:contested.state']);
  });

  it('a process SIGKILLed at any instant of a save loop leaves the old or the new state, never a torn one', async () => {
    const iterations = Number(process.env.RUNCELL_SIGKILL_ITERATIONS ?? 240);
    const lanes = 4; // containers saved in parallel, one killer loop each
    const size = 256 * 1024; // big enough that a kill often lands inside write/fsync
    let kills = 0;
    const lane = async (n: number) => {
      const id = `saver${n}`;
      const file = new StateFile<{ counter: number; payload: string }>(root, { containerId: id, sandboxId: id });
      file.lockForNew();
      file.saveLocked({ counter: 0, payload: '' });
      file.close();
      let last = 0;
      for (let i = n; i < iterations; i += lanes) {
        const saver = worker('save-loop', [root, id, String(size)]);
        await lines(saver)();
        await sleep(Math.random() * 25);
        saver.kill('SIGKILL');
        await exited(saver);
        kills += 1;
        const text = fs.readFileSync(path.join(root, `${id}_sandbox:${id}.state`), 'utf8');
        const state = JSON.parse(text) as { counter: number; payload: string };
        expect(state.counter).toBeGreaterThanOrEqual(last);
        expect(state.payload).toBe(state.counter === 0 ? '' : String(state.counter % 10).repeat(size));
        last = state.counter;
      }
      return last;
    };
    const counters = await Promise.all(Array.from({ length: lanes }, (_, n) => lane(n)));
    expect(kills).toBe(iterations);
    // Every life of a saver got some saves in before it was killed.
    expect(counters.reduce((a, b) => a + b, 0)).toBeGreaterThan(iterations);
  });

  it('a waiter on a lock whose container is destroyed reports it gone, not a lock on a dead inode', async () => {
    const holder = new StateFile<unknown>(root, { containerId: 'c1', sandboxId: 'c1' });
    holder.lockForNew();
    holder.saveLocked({ v: 1 });
    const waiter = worker('wait-lock', [root, 'c1', 'lock']);
    const next = lines(waiter);
    expect(await next()).toBe('waiting');
    await blockedOnLock(waiter.pid!);
    holder.destroy();
    expect(await next()).toBe('error ERR_CONTAINER_NOT_FOUND');
  });

  it('a waiter never holds the lock together with the creator of a new container of the same id', async () => {
    const first = new StateFile<unknown>(root, { containerId: 'c1', sandboxId: 'c1' });
    first.lockForNew();
    first.saveLocked({ generation: 1 });
    const waiter = worker('wait-lock', [root, 'c1', 'lock']);
    const next = lines(waiter);
    expect(await next()).toBe('waiting');
    await blockedOnLock(waiter.pid!);
    first.destroy();
    // A new container of the same id, created and locked at once, on a fresh lock file.
    const second = new StateFile<unknown>(root, { containerId: 'c1', sandboxId: 'c1' });
    second.lockForNew();
    let reported: string | undefined;
    const report = next().then((line) => (reported = line));
    // Waiting again, now on the new lock file (the old inode's lock was not kept) -- or, if it
    // woke in the instant between destroy and the new lockForNew's flock, it found the container
    // gone (even when it locked the new file before the creator did: it has no state yet).
    // Never "locked".
    const newLock = path.join(root, 'c1_sandbox:c1.lock');
    await waitFor(() => reported !== undefined || isBlockedOnLock(waiter.pid!, newLock), 'the waiter to report or wait on the new lock');
    if (reported !== undefined) {
      expect(reported).toBe('error ERR_CONTAINER_NOT_FOUND');
      return;
    }
    second.saveLocked({ generation: 2 });
    second.close();
    expect(await report).toBe('locked {"generation":2}');
  });

  it('a waiter in lockForNew takes over a destroyed id with fresh files', async () => {
    const first = new StateFile<unknown>(root, { containerId: 'c1', sandboxId: 'c1' });
    first.lockForNew();
    first.saveLocked({ generation: 1 });
    const waiter = worker('wait-lock', [root, 'c1', 'lockForNew']);
    const next = lines(waiter);
    expect(await next()).toBe('waiting');
    await blockedOnLock(waiter.pid!);
    first.destroy();
    expect(await next()).toBe('locked none');
  });
});
