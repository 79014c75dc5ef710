// What a new user does first on a modern host (the test VM: Debian 12, systemd 252 as PID 1, pure
// cgroup v2, no v1 controller), with the cgroupfs driver: the demo, `runcell run` of the bundle
// `runcell spec` writes, a memory limit seen inside and enforced, and podman with its cgroupfs
// manager and with a read-only root. Runs only in the VM (RUNCELL_VM=1, set by test/vm/run);
// elsewhere it is skipped, saying so.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, commandExists, run, runcell, useScratchContainer } from '../helpers/env';
import { makeBundle } from '../helpers/bundle';

const inVM = process.env.RUNCELL_VM === '1';
const VM_TIMEOUT_MS = 300_000; // TCG emulation on a busy host: podman takes tens of seconds a command
const MiB = 1024 * 1024;

let dir: string;
let root: string;
let id: string;
useScratchContainer('mh', (d, r, i) => ([dir, root, id] = [d, r, i])); // ids unique: cgroups are host-wide
const rc = (...args: string[]) => runcell(['--root', root, ...args]);

describe.skipIf(!inVM)(`a new user on a modern host${inVM ? '' : ' (skipped: runs in the test VM only, npm run test:vm)'}`, () => {
  it('runcell demo runs', async () => {
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).toMatch(/ \/sys\/fs\/cgroup .* - cgroup2 /);
    const result = await runcell(['demo']);
    expect(result).toMatchObject({ code: 0 });
  }, VM_TIMEOUT_MS);

  it('runcell run of the bundle runcell spec writes', async () => {
    const bundle = path.join(dir, 'spec-bundle');
    makeBundle(bundle, ['true']); // the busybox root filesystem
    fs.rmSync(path.join(bundle, 'config.json'));
    expect(await runcell(['spec', '--bundle', bundle])).toMatchObject({ code: 0 });
    const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    spec.process.terminal = false; // runcell spec's default is an interactive sh, as runc's
    spec.process.args = ['sh', '-c', 'echo ran; cat /sys/fs/cgroup/pids.max'];
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
    expect(await rc('run', '-b', bundle, id)).toMatchObject({ code: 0, stdout: 'ran\nmax\n' });
  }, VM_TIMEOUT_MS);

  it('a 64 MiB limit is memory.max inside and on the host, and a bigger allocation is OOM-killed', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['sh', '-c',
      // tail keeps its last line, here all 200 MiB of it (no newline): the pipeline's status is tail's.
      'cat /sys/fs/cgroup/memory.max; cat /proc/self/cgroup; head -c 200m /dev/zero | tail > /dev/null; echo "status $?"'],
    (spec) => {
      spec.linux.resources = { ...spec.linux.resources, memory: { limit: 64 * MiB, swap: 64 * MiB } };
      spec.linux.cgroupsPath = `/runcell-vm/${id}`;
      if (!spec.linux.namespaces.some((ns: { type: string }) => ns.type === 'cgroup')) spec.linux.namespaces.push({ type: 'cgroup' });
    });
    const result = await rc('run', '-b', bundle, id);
    expect(result.stdout).toBe([
      String(64 * MiB),
      '0::/', // a cgroup namespace of its own: its cgroup is its root
      'status 137', // tail held 200 MiB: the kernel's OOM killer sent SIGKILL
      '',
    ].join('\n'));
  }, VM_TIMEOUT_MS);

  it('the limit is memory.max on the host while the container runs', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['sleep', '1000'], (spec) => {
      spec.linux.resources = { ...spec.linux.resources, memory: { limit: 64 * MiB } };
      spec.linux.cgroupsPath = `/runcell-vm/${id}`;
    });
    expect(await rc('run', '-d', '-b', bundle, id)).toMatchObject({ code: 0 });
    expect(fs.readFileSync(`/sys/fs/cgroup/runcell-vm/${id}/memory.max`, 'utf8').trim()).toBe(String(64 * MiB));
    expect(await rc('delete', '--force', id)).toMatchObject({ code: 0 });
    expect(fs.existsSync(`/sys/fs/cgroup/runcell-vm/${id}`)).toBe(false);
  }, VM_TIMEOUT_MS);
});

describe.skipIf(!inVM || !commandExists('podman'))(`podman on a modern host${inVM ? '' : ' (skipped: runs in the test VM only)'}`, () => {
  const podman = (...args: string[]) => run('podman', ['--runtime', CLI, ...args]);

  it('podman --cgroup-manager cgroupfs run --rm --memory 64m: the limit is seen inside', async () => {
    const result = await podman('--cgroup-manager', 'cgroupfs', 'run', '--rm', '--memory', '64m', 'localhost/busybox', 'cat', '/sys/fs/cgroup/memory.max');
    expect(result).toMatchObject({ code: 0, stdout: `${64 * MiB}\n` });
  }, VM_TIMEOUT_MS);

  it('podman run --read-only: the root is read-only, /tmp and /run are writable tmpfs copies (tmpcopyup)', async () => {
    const result = await podman('run', '--rm', '--read-only', 'localhost/busybox', 'sh', '-c',
      'touch /etc/x 2>&1 || true; touch /tmp/x && touch /run/x && echo writable');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Read-only file system/);
    expect(result.stdout).toContain('writable\n');
  }, VM_TIMEOUT_MS);
});
