// podman as a real client: podman and conmon call runcell (create with --console-socket for
// -t, start, exec --detach, kill, pause, delete --force), on a local busybox image, with
// podman's cgroupfs manager and a storage of the test's own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../helpers/env';
import { busyboxRootfs, cgroupExists, IMAGE, Podman, whyNoClient } from '../helpers/clients';

const skip = whyNoClient('podman', 'conmon', 'catatonit', 'script'); // catatonit: --init and the pods' infra
// A podman command takes a second or two on a busy 2-core machine; give up only much later.
const TIMEOUT_MS = 120_000;
const MiB = 1024 * 1024;

let podman: Podman;
beforeAll(async () => {
  if (skip !== null) return;
  podman = new Podman(tempDir('runcell-podman-'));
  await podman.importImage(busyboxRootfs(podman.dir).tar);
}, TIMEOUT_MS);
afterAll(async () => {
  if (podman !== undefined) await podman.cleanUp();
}, TIMEOUT_MS);

let serial = 0;
const name = (what: string) => `${what}-${process.pid}-${++serial}`;

/** The container's state as podman sees it (running, paused, exited, ...). */
async function status(container: string): Promise<string> {
  return (await podman.run('inspect', '--format', '{{.State.Status}}', container)).stdout.trim();
}

describe.skipIf(skip !== null)(`podman with runcell${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('podman run: its runtime is runcell; output and exit status', async () => {
    expect((await podman.run('info', '--format', '{{.Host.OCIRuntime.Path}} {{.Host.CgroupManager}}')).stdout.trim())
      .toMatch(/\/bin\/runcell cgroupfs$/);
    const result = await podman.run('run', '--rm', '--cgroup-parent', podman.cgroupParent, IMAGE, 'sh', '-c', 'echo out; echo err >&2; exit 3');
    expect(result).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  }, TIMEOUT_MS);

  it('podman run --read-only: the root is read-only, /tmp and /run are writable tmpfs', async () => {
    const result = await podman.run('run', '--rm', '--read-only', '--cgroup-parent', podman.cgroupParent, IMAGE, 'sh', '-c',
      'touch /x 2>/dev/null && echo root-writable; touch /tmp/x /run/x && echo tmp-writable; awk \'$5 == "/" { print $6 }\' /proc/self/mountinfo');
    expect(result).toMatchObject({ code: 0, stdout: expect.stringMatching(/^tmp-writable\nro,/) });
  }, TIMEOUT_MS);

  it('podman run --memory 64m: the limit is on the container\'s cgroup', async () => {
    const result = await podman.run('run', '--rm', '--memory', '64m', '--cgroup-parent', podman.cgroupParent, IMAGE, 'sh', '-c',
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max');
    expect(result).toMatchObject({ code: 0, stdout: `${64 * MiB}\n` });
  }, TIMEOUT_MS);

  it('podman run --init: catatonit is pid 1 and runs the command after its "--"', async () => {
    const result = await podman.run('run', '--rm', '--init', '--cgroup-parent', podman.cgroupParent, IMAGE, 'sh', '-c',
      'tr "\\0" " " </proc/1/cmdline; echo; echo "pid $$"');
    expect(result).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\/run\/podman-init -- sh -c .*\npid [2-9]\d*\n$/) });
  }, TIMEOUT_MS);

  it('podman run -t: the process has the terminal as stdio; podman exits with its status', async () => {
    const result = await podman.onTerminal('run', '--rm', '-t', '--cgroup-parent', podman.cgroupParent, IMAGE, 'sh', '-c',
      'tty; test -t 0 && test -t 1 && test -t 2 && echo all-tty; exit 4');
    expect(result.stdout).toMatch(/\/dev\/pts\/0\r*\n/);
    expect(result.stdout).toMatch(/all-tty\r*\n/);
    expect(result.code).toBe(4);
  }, TIMEOUT_MS);

  it('podman exec (plain, -i, -t, -u, -w, -e), pause and unpause, stop, rm; the cgroup goes', async () => {
    const c = name('exec');
    const started = await podman.run('run', '-d', '--name', c, '--cgroup-parent', podman.cgroupParent, IMAGE, 'sleep', '1000');
    expect(started).toMatchObject({ code: 0 });
    const id = started.stdout.trim();
    expect(await status(c)).toBe('running');

    expect(await podman.run('exec', c, 'sh', '-c', 'echo exec-out; exit 6')).toMatchObject({ code: 6, stdout: 'exec-out\n' });
    const input = await podman.withInput('typed\n', 'exec', '-i', c, 'sh', '-c', 'read line; echo "got $line"');
    expect(input).toMatchObject({ code: 0, stdout: 'got typed\n' });
    expect(await podman.run('exec', '-u', 'nobody', '-w', '/tmp', '-e', 'A=b', c, 'sh', '-c', 'id -u; pwd; echo $A'))
      .toMatchObject({ code: 0, stdout: '65534\n/tmp\nb\n' });
    const tty = await podman.onTerminal('exec', '-t', c, 'sh', '-c', 'tty; exit 5');
    expect(tty.stdout).toMatch(/\/dev\/pts\/\d+\r*\n/);
    expect(tty.code).toBe(5);
    // A missing program: podman's 127, from runcell's error text.
    expect((await podman.run('exec', c, '/no/such/program')).code).toBe(127);

    expect(await podman.run('pause', c)).toMatchObject({ code: 0 });
    expect(await status(c)).toBe('paused');
    expect((await podman.run('exec', c, 'true')).code).not.toBe(0); // refused while paused
    expect(await podman.run('unpause', c)).toMatchObject({ code: 0 });
    expect(await status(c)).toBe('running');

    expect(await podman.run('stop', '-t', '0', c)).toMatchObject({ code: 0 });
    expect(await status(c)).toBe('exited');
    expect(await podman.run('rm', c)).toMatchObject({ code: 0 });
    expect(cgroupExists(`${podman.cgroupParent}/libpod-${id}`)).toBe(false);
  }, TIMEOUT_MS);

  it('a pod: two containers share the network, uts and ipc namespaces of its infra container', async () => {
    const pod = name('pod');
    expect(await podman.run('pod', 'create', '--name', pod, '--cgroup-parent', podman.cgroupParent)).toMatchObject({ code: 0 });
    const server = name('server');
    // The server answers one connection on the pod's loopback, then waits.
    expect(await podman.run('run', '-d', '--pod', pod, '--name', server, IMAGE, 'sh', '-c',
      'echo hello-from-server | nc -l -p 8080; sleep 1000')).toMatchObject({ code: 0 });
    await waitFor(() => podman.succeeds('exec', server, 'sh', '-c', 'netstat -ltn | grep -q ":8080 "'), 'the server to listen', 60_000);
    const ns = 'readlink /proc/self/ns/net /proc/self/ns/uts /proc/self/ns/ipc';
    const serverNs = (await podman.run('exec', server, 'sh', '-c', ns)).stdout;
    const client = await podman.run('run', '--rm', '--pod', pod, '--name', name('client'), IMAGE, 'sh', '-c',
      `${ns}; nc 127.0.0.1 8080 </dev/null`);
    expect(client.code).toBe(0);
    expect(client.stdout).toBe(`${serverNs}hello-from-server\n`);
    expect(await podman.run('pod', 'rm', '-f', '-t', '0', pod)).toMatchObject({ code: 0 });
    expect((await podman.run('ps', '-a', '--filter', `pod=${pod}`, '-q')).stdout).toBe('');
  }, TIMEOUT_MS);
});

