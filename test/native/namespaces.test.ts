// Opening a recorded process's namespaces: only while the pid is still that process.
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { processStartTime } from '../../src';
import { closeNamespaces, openNamespaces } from '../../src/container/namespaces';
import { startSleeper } from '../helpers/env';

const children: ReturnType<typeof startSleeper>[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

describe('openNamespaces', () => {
  it('opens the namespaces of a live process, in the order asked', () => {
    const child = startSleeper();
    children.push(child);
    const opened = openNamespaces({ pid: child.pid!, startTime: processStartTime(child.pid!) }, ['uts', 'pid', 'network'])!;
    expect(opened.map((ns) => ns.type)).toEqual(['uts', 'pid', 'network']);
    expect(fs.fstatSync(opened[1].fd).ino).toBe(fs.statSync(`/proc/${child.pid}/ns/pid`).ino);
    closeNamespaces(opened);
    // The child shares all of ours: with skipOwn nothing is left to enter.
    expect(openNamespaces({ pid: child.pid!, startTime: processStartTime(child.pid!) }, ['uts', 'pid'], { skipOwn: true })).toEqual([]);
  });

  it('returns null, holding nothing, for a pid that is not the recorded process', async () => {
    const child = startSleeper();
    children.push(child);
    const before = fs.readdirSync('/proc/self/fd').length;
    expect(openNamespaces({ pid: child.pid!, startTime: processStartTime(child.pid!) - 1 }, ['uts', 'ipc'])).toBeNull();
    expect(fs.readdirSync('/proc/self/fd').length).toBe(before);
    expect(openNamespaces({ pid: 4194304 + 7, startTime: 1 }, ['uts'])).toBeNull();
  });
});
