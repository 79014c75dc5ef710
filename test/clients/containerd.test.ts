// containerd as a real client: its runc shim (containerd-shim-runc-v2) with runcell as the
// runtime binary, driven by ctr against a daemon of the test's own, on a local busybox image.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../helpers/env';
import { busyboxRootfs, cgroupExists, Containerd, IMAGE, ociArchive, whyNoClient } from '../helpers/clients';

const skip = whyNoClient('containerd', 'ctr', 'containerd-shim-runc-v2', 'script');
// A client command takes a second or two on a busy 2-core machine; give up only much later.
const TIMEOUT_MS = 120_000;

let containerd: Containerd;
beforeAll(async () => {
  if (skip !== null) return;
  const dir = tempDir('runcell-ctr-');
  containerd = new Containerd(dir);
  await containerd.start();
  const { tar } = busyboxRootfs(dir);
  await containerd.importImage(ociArchive(tar, path.join(dir, 'busybox-oci.tar')));
}, TIMEOUT_MS);
afterAll(async () => {
  if (containerd !== undefined) await containerd.cleanUp();
}, TIMEOUT_MS);

let serial = 0;
const name = (what: string) => `${what}-${++serial}`;

describe.skipIf(skip !== null)(`containerd (ctr, the runc shim) with runcell${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('ctr run: the output, and the exit status of the process', async () => {
    const result = await containerd.ctr('run', '--rm', ...containerd.runtimeArgs(), IMAGE, name('run'), 'sh', '-c', 'echo out; echo err >&2; exit 3');
    expect(result).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  }, TIMEOUT_MS);

  it('ctr run -t: the process has the terminal, and ctr finishes with its exit status', async () => {
    // This hung: the init kept create's stdout, which the shim reads to EOF before start.
    const result = await containerd.ctrOnTerminal('run', '--rm', '-t', ...containerd.runtimeArgs(), IMAGE, name('tty'),
      'sh', '-c', 'tty; test -t 0 && test -t 1 && test -t 2 && echo all-tty; exit 4');
    expect(result.stdout).toMatch(/\/dev\/pts\/0\r*\n/);
    expect(result.stdout).toMatch(/all-tty\r*\n/);
    expect(result.code).toBe(4); // not timeout(1)'s 124
  }, TIMEOUT_MS);

  it('a task: exec with and without -t, ps, pause and resume, kill, delete; the cgroup and the state go', async () => {
    const id = name('task');
    expect(await containerd.ctr('run', '-d', ...containerd.runtimeArgs(), IMAGE, id, 'sleep', '1000')).toMatchObject({ code: 0 });
    expect(containerd.taskStatus(id)).toBe('RUNNING');
    const cgroup = `/${containerd.namespace}/${id}`;
    expect(cgroupExists(cgroup)).toBe(true);

    const plain = await containerd.ctr('task', 'exec', ...containerd.fifoArgs(), '--exec-id', 'e1', id, 'sh', '-c', 'echo exec-out; cat /proc/self/cgroup | grep -c ' + id + '; exit 6');
    expect(plain.code).toBe(6);
    expect(plain.stdout).toMatch(/^exec-out\n[1-9]\d*\n$/); // in the task's cgroup
    const tty = await containerd.ctrOnTerminal('task', 'exec', ...containerd.fifoArgs(), '-t', '--exec-id', 'e2', id, 'sh', '-c', 'tty; exit 5');
    expect(tty.stdout).toMatch(/\/dev\/pts\/\d+\r*\n/);
    expect(tty.code).toBe(5);

    const ps = await containerd.ctr('task', 'ps', id);
    expect(ps.code).toBe(0);
    expect(ps.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(2); // the header and the process(es)

    expect(await containerd.ctr('task', 'pause', id)).toMatchObject({ code: 0 });
    expect(containerd.taskStatus(id)).toBe('PAUSED');
    expect(await containerd.ctr('task', 'resume', id)).toMatchObject({ code: 0 });
    expect(containerd.taskStatus(id)).toBe('RUNNING');

    expect(await containerd.ctr('task', 'kill', '-s', 'SIGKILL', id)).toMatchObject({ code: 0 });
    await waitFor(() => containerd.taskStatus(id) === 'STOPPED', 'the task to stop', 60_000);
    expect(await containerd.ctr('task', 'rm', id)).toMatchObject({ code: 0 });
    expect(containerd.taskStatus(id)).toBeUndefined();
    expect(await containerd.ctr('containers', 'rm', id)).toMatchObject({ code: 0 });
    expect(cgroupExists(cgroup)).toBe(false);
    const runtimeRoot = `/run/containerd/runc/${containerd.namespace}`;
    expect(fs.existsSync(runtimeRoot) ? fs.readdirSync(runtimeRoot) : []).toEqual([]);
  }, TIMEOUT_MS);

  it('task delete -f of a running task kills it and removes it', async () => {
    const id = name('force');
    expect(await containerd.ctr('run', '-d', ...containerd.runtimeArgs(), IMAGE, id, 'sleep', '1000')).toMatchObject({ code: 0 });
    expect(await containerd.ctr('task', 'rm', '-f', id)).toMatchObject({ code: 0 });
    expect(containerd.taskStatus(id)).toBeUndefined();
    expect(await containerd.ctr('containers', 'rm', id)).toMatchObject({ code: 0 });
    expect(cgroupExists(`/${containerd.namespace}/${id}`)).toBe(false);
  }, TIMEOUT_MS);
});
