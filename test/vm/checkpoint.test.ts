// Checkpoint and restore through the clients on a modern host (the test VM: Debian 12, systemd
// PID 1, pure cgroup v2, kernel 6.1, Debian's criu 3.17): podman's `container checkpoint` and
// `restore` (also --export/--import) with runcell as the runtime, and containerd's
// `ctr task checkpoint`. Runs only in the VM (RUNCELL_VM=1); elsewhere it is skipped, saying so.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, commandExists, run, tempDir } from '../helpers/env';

const inVM = process.env.RUNCELL_VM === '1';
const VM_TIMEOUT_MS = 600_000; // TCG emulation on a busy host: podman takes tens of seconds a command
const COUNTER = 'i=0; while true; do i=$((i+1)); echo $i; sleep 0.2; done';
const name = (what: string) => `ckpt-${what}-${process.pid}`;

const numbers = (text: string) => text.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);

describe.skipIf(!inVM || !commandExists('podman'))(`podman checkpoint and restore${inVM ? '' : ' (skipped: runs in the test VM only)'}`, () => {
  const podman = (...args: string[]) => run('podman', ['--runtime', CLI, ...args]);
  const logs = async (id: string) => numbers((await podman('logs', id)).stdout);

  it('podman container checkpoint and restore: the count goes on from where it stopped', { timeout: VM_TIMEOUT_MS }, async () => {
    const id = name('podman');
    expect(await podman('run', '-d', '--name', id, 'localhost/busybox', 'sh', '-c', COUNTER)).toMatchObject({ code: 0 });
    try {
      const running = async (n: number) => {
        const deadline = Date.now() + VM_TIMEOUT_MS / 4;
        while ((await logs(id)).length <= n) {
          if (Date.now() > deadline) throw new Error(`${id} did not count past ${n}`);
          await new Promise((r) => setTimeout(r, 500));
        }
      };
      await running(2);
      const checkpoint = await podman('container', 'checkpoint', id);
      expect(checkpoint, checkpoint.stderr).toMatchObject({ code: 0 });
      expect((await podman('inspect', '-f', '{{.State.Status}}', id)).stdout.trim()).toBe('exited');
      const before = await logs(id);
      const restore = await podman('container', 'restore', id);
      expect(restore, restore.stderr).toMatchObject({ code: 0 });
      await running(before.length + 3);
      const after = await logs(id);
      // Every number once, in order: the restored process went on from its own count.
      expect(after).toEqual(after.map((_, i) => i + 1));
    } finally {
      await podman('rm', '-f', id);
    }
  });

  it('podman container checkpoint --export and restore --import (another container from the archive)', { timeout: VM_TIMEOUT_MS }, async () => {
    const id = name('export');
    const archive = path.join(tempDir('runcell-ckpt-'), 'checkpoint.tar.gz');
    expect(await podman('run', '-d', '--name', id, 'localhost/busybox', 'sh', '-c', COUNTER)).toMatchObject({ code: 0 });
    try {
      const deadline = Date.now() + VM_TIMEOUT_MS / 4;
      while ((await logs(id)).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
      const exported = await podman('container', 'checkpoint', '--export', archive, id);
      expect(exported, exported.stderr).toMatchObject({ code: 0 });
      expect(fs.statSync(archive).size).toBeGreaterThan(0);
      expect(await podman('rm', '-f', id)).toMatchObject({ code: 0 });
      const imported = await podman('container', 'restore', '--import', archive, '--name', `${id}-2`);
      expect(imported, imported.stderr).toMatchObject({ code: 0 });
      expect((await podman('inspect', '-f', '{{.State.Status}}', `${id}-2`)).stdout.trim()).toBe('running');
    } finally {
      await podman('rm', '-f', id);
      await podman('rm', '-f', `${id}-2`);
      fs.rmSync(path.dirname(archive), { recursive: true, force: true });
    }
  });
});

describe.skipIf(!inVM || !commandExists('ctr'))(`containerd checkpoint${inVM ? '' : ' (skipped: runs in the test VM only)'}`, () => {
  it('ctr task checkpoint of a task of runcell', { timeout: VM_TIMEOUT_MS }, async () => {
    const ctr = (...args: string[]) => run('ctr', ['-n', 'default', ...args]);
    const id = name('ctr');
    const started = await ctr('run', '-d', '--runtime', 'io.containerd.runc.v2', '--runc-binary', CLI, 'localhost/busybox:latest', id, 'sh', '-c', COUNTER);
    expect(started, started.stderr).toMatchObject({ code: 0 });
    try {
      const checkpointed = await ctr('task', 'checkpoint', id);
      expect(checkpointed, checkpointed.stderr).toMatchObject({ code: 0 });
      // The checkpoint is an image of containerd's content store; the task runs on (ctr
      // checkpoints with --leave-running unless told --exit; the shim paused it meanwhile).
      const image = checkpointed.stdout.trim();
      expect(image).toMatch(/checkpoint/);
      expect((await ctr('images', 'ls', '-q')).stdout.split('\n')).toContain(image);
      expect((await ctr('task', 'ls')).stdout).toMatch(new RegExp(`^${id}\\s+\\d+\\s+RUNNING`, 'm'));
    } finally {
      await ctr('task', 'kill', '-s', 'SIGKILL', id);
      await ctr('task', 'rm', '-f', id);
      await ctr('container', 'rm', id);
      await ctr('images', 'rm', `checkpoint/${id}`).catch(() => undefined);
    }
  });
});
