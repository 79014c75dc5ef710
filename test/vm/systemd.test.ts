// The systemd cgroup driver on a modern host (the test VM: Debian 12, systemd 252 as PID 1, pure
// cgroup v2): runcell's own --systemd-cgroup with a "slice:prefix:name" path, podman with its
// default (systemd) cgroup manager, and containerd's runc shim with SystemdCgroup. Runs only in
// the VM (RUNCELL_VM=1, set by test/vm/run); elsewhere it is skipped, saying so.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, commandExists, run, runcell, waitFor, useScratchContainer } from '../helpers/env';
import { makeBundle } from '../helpers/bundle';

const inVM = process.env.RUNCELL_VM === '1';
// Under TCG emulation on a busy host a container takes seconds, podman and containerd tens of
// seconds a command.
const VM_TIMEOUT_MS = 300_000;
const MiB = 1024 * 1024;
const CGROUP_ROOT = '/sys/fs/cgroup';

let dir: string;
let root: string;
let id: string;
useScratchContainer('sd', (d, r, i) => ([dir, root, id] = [d, r, i])); // ids unique: cgroups are host-wide

const rc = (...args: string[]) => runcell(['--root', root, ...args]);

/** `systemctl show UNIT -p A -p B`: the properties as an object. */
function unitShow(unit: string, ...properties: string[]): Record<string, string> {
  const text = execFileSync('systemctl', ['show', unit, ...properties.flatMap((p) => ['-p', p])], { encoding: 'utf8' });
  return Object.fromEntries(text.split('\n').filter(Boolean).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

/** The cgroup v2 path of a process, from /proc/PID/cgroup ("0::/system.slice/x.scope"). */
function cgroupOf(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().replace(/^0::/, '');
}

/** Waits until systemd has let go of a stopped unit (it collects inactive transient units). */
async function unloaded(unit: string): Promise<void> {
  await waitFor(() => unitShow(unit, 'LoadState').LoadState === 'not-found', `systemd to unload ${unit}`);
}

const read = (cgroup: string, file: string) => fs.readFileSync(path.join(CGROUP_ROOT, cgroup, file), 'utf8').trim();

// The default spec's container (its "deny all" device rules are an eBPF program on v2).
function bundleWith(args: string[], edit: (spec: any) => void = () => {}): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  return makeBundle(path.join(dir, 'bundle'), args, edit);
}

describe.skipIf(!inVM)(`runcell --systemd-cgroup${inVM ? '' : ' (skipped: runs in the test VM only, npm run test:vm)'}`, () => {
  it('makes a delegated scope in the slice for a "slice:prefix:name" path, with the init in it and its limits as properties and files', async () => {
    const bundle = bundleWith(['sh', '-c', 'sleep 1000 & wait'], (spec) => {
      spec.linux.cgroupsPath = `system.slice:runcell:${id}`;
      spec.linux.resources = { memory: { limit: 64 * MiB }, pids: { limit: 40 }, cpu: { quota: 50_000, period: 100_000 } };
    });
    const unit = `runcell-${id}.scope`;
    const cgroup = `/system.slice/${unit}`;
    expect(await rc('--systemd-cgroup', 'run', '-d', '-b', bundle, id)).toMatchObject({ code: 0, stderr: '' });
    const { pid } = JSON.parse((await rc('state', id)).stdout);
    expect(unitShow(unit, 'ActiveState', 'ControlGroup', 'Slice', 'Delegate', 'MemoryMax', 'TasksMax', 'CPUQuotaPerSecUSec', 'DefaultDependencies'))
      .toEqual({
        ActiveState: 'active', ControlGroup: cgroup, Slice: 'system.slice', Delegate: 'yes', MemoryMax: String(64 * MiB),
        TasksMax: '40', CPUQuotaPerSecUSec: '500ms', DefaultDependencies: 'no',
      });
    // The init, and everything it started, are in the scope's cgroup.
    expect(cgroupOf(pid)).toBe(cgroup);
    const procs = read(cgroup, 'cgroup.procs').split('\n').map(Number);
    expect(procs).toContain(pid);
    expect(procs.length).toBe(3); // init, sh, sleep
    expect(read(cgroup, 'memory.max')).toBe(String(64 * MiB));
    expect(read(cgroup, 'pids.max')).toBe('40');
    expect(read(cgroup, 'cpu.max')).toBe('50000 100000');
    // exec joins the scope too.
    expect(await rc('exec', '-d', id, 'sleep', '999')).toMatchObject({ code: 0, stderr: '' });
    await waitFor(() => read(cgroup, 'cgroup.procs').split('\n').length === 4, 'the exec\'d process in the scope');
    procs.push(...read(cgroup, 'cgroup.procs').split('\n').map(Number).filter((p) => !procs.includes(p)));
    // ps, pause and kill --all work on the scope's cgroup as on any other.
    expect(JSON.parse((await rc('ps', '-f', 'json', id)).stdout).sort()).toEqual(procs.sort());
    expect(await rc('pause', id)).toMatchObject({ code: 0 });
    expect(read(cgroup, 'cgroup.freeze')).toBe('1');
    expect(await rc('resume', id)).toMatchObject({ code: 0 });

    // update: systemd's properties and the files move together.
    const update = await runcell(['--root', root, '--systemd-cgroup', 'update', '-r', '-', id],
      { input: JSON.stringify({ memory: { limit: 128 * MiB }, pids: { limit: 77 } }) });
    expect(update).toMatchObject({ code: 0, stderr: '' });
    expect(unitShow(unit, 'MemoryMax', 'TasksMax')).toEqual({ MemoryMax: String(128 * MiB), TasksMax: '77' });
    expect(read(cgroup, 'memory.max')).toBe(String(128 * MiB));
    expect(read(cgroup, 'pids.max')).toBe('77');

    expect(await rc('delete', '--force', id)).toMatchObject({ code: 0, stderr: '' });
    expect(unitShow(unit, 'ActiveState')).toEqual({ ActiveState: 'inactive' }); // stopped when delete returns
    await unloaded(unit); // and then collected by systemd
    expect(fs.existsSync(path.join(CGROUP_ROOT, cgroup))).toBe(false);
    expect(fs.readdirSync(root)).toEqual([]);
  }, VM_TIMEOUT_MS);

  it('without a cgroupsPath: system.slice:runcell:<id>; a foreground run exits with the status and its scope goes', async () => {
    const bundle = bundleWith(['sh', '-c', 'cat /proc/self/cgroup; exit 3']);
    const result = await rc('--systemd-cgroup', 'run', '-b', bundle, id);
    expect(result).toMatchObject({ code: 3, stderr: '' });
    // The container's view of its cgroup (its own namespace, or the host's path).
    expect(result.stdout).toMatch(new RegExp(`^0::(/|/system\\.slice/runcell-${id}\\.scope)\\n$`));
    await unloaded(`runcell-${id}.scope`);
    expect(fs.readdirSync(root)).toEqual([]);
  }, VM_TIMEOUT_MS);

  it('a create that fails after the scope exists removes the scope, the cgroup and the state', async () => {
    const bundle = bundleWith(['true'], (spec) => {
      spec.linux.cgroupsPath = `system.slice:runcell:${id}`;
      spec.mounts.push({ destination: '/nowhere', type: 'bind', source: path.join(dir, 'missing'), options: ['rbind'] });
    });
    const result = await rc('--systemd-cgroup', 'create', '-b', bundle, id);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^runcell: cannot create container "${id}": .*missing.*ENOENT`));
    await unloaded(`runcell-${id}.scope`);
    expect(fs.existsSync(path.join(CGROUP_ROOT, `system.slice/runcell-${id}.scope`))).toBe(false);
    expect(fs.readdirSync(root)).toEqual([]);
  }, VM_TIMEOUT_MS);

  it('a name ending in .slice makes that slice, the init written into it', async () => {
    const slice = `runcelltest-${id.replace(/-/g, '_')}.slice`;
    const bundle = bundleWith(['sleep', '1000'], (spec) => {
      spec.linux.cgroupsPath = `system.slice:ignored:${slice}`;
      spec.linux.resources = { memory: { limit: 64 * MiB } };
    });
    expect(await rc('--systemd-cgroup', 'run', '-d', '-b', bundle, id)).toMatchObject({ code: 0, stderr: '' });
    const { pid } = JSON.parse((await rc('state', id)).stdout);
    const cgroup = `/runcelltest.slice/${slice}`;
    expect(cgroupOf(pid)).toBe(cgroup);
    expect(unitShow(slice, 'ActiveState', 'MemoryMax')).toEqual({ ActiveState: 'active', MemoryMax: String(64 * MiB) });
    expect(await rc('delete', '--force', id)).toMatchObject({ code: 0, stderr: '' });
    expect(unitShow(slice, 'ActiveState').ActiveState).toBe('inactive');
    expect(fs.existsSync(path.join(CGROUP_ROOT, cgroup))).toBe(false);
  }, VM_TIMEOUT_MS);
});

describe.skipIf(!inVM || !commandExists('podman'))(`podman with its systemd cgroup manager${inVM ? '' : ' (skipped: runs in the test VM only)'}`, () => {
  const podman = (...args: string[]) => run('podman', ['--runtime', CLI, ...args]);

  it('podman run --rm: the container is a libpod scope in machine.slice with --memory 64m', async () => {
    expect((await run('podman', ['info', '--format', '{{.Host.CgroupManager}}'])).stdout.trim()).toBe('systemd');
    const name = `runcell-${id}`;
    const started = await podman('run', '-d', '--rm', '--name', name, '--memory', '64m', 'localhost/busybox', 'sleep', '1000');
    expect(started).toMatchObject({ code: 0 });
    try {
      const full = started.stdout.trim();
      const pid = Number((await podman('inspect', '--format', '{{.State.Pid}}', name)).stdout.trim());
      const unit = `libpod-${full}.scope`;
      expect(cgroupOf(pid)).toBe(`/machine.slice/${unit}`);
      expect(unitShow(unit, 'ActiveState', 'MemoryMax', 'Delegate')).toEqual({ ActiveState: 'active', MemoryMax: String(64 * MiB), Delegate: 'yes' });
      expect(read(`/machine.slice/${unit}`, 'memory.max')).toBe(String(64 * MiB));
      expect(await podman('rm', '-f', '-t', '0', name)).toMatchObject({ code: 0 });
      await unloaded(unit);
    } finally {
      await podman('rm', '-f', '-t', '0', name);
    }
  }, VM_TIMEOUT_MS);

  it('podman run --rm --memory 64m: the limit is seen inside', async () => {
    // The container's /sys/fs/cgroup is its own cgroup (its scope), read-only.
    const result = await podman('run', '--rm', '--memory', '64m', 'localhost/busybox', 'cat', '/sys/fs/cgroup/memory.max');
    expect(result).toMatchObject({ code: 0, stdout: `${64 * MiB}\n` });
  }, VM_TIMEOUT_MS);
});

describe.skipIf(!inVM || !commandExists('ctr'))(`containerd with SystemdCgroup${inVM ? '' : ' (skipped: runs in the test VM only)'}`, () => {
  it('ctr run --runc-systemd-cgroup: the task is a scope with the memory limit, gone after the task', async () => {
    const ctr = (...args: string[]) => run('ctr', ['-n', 'default', ...args]);
    const name = `runcell-${id}`;
    const started = await ctr('run', '-d', '--runtime', 'io.containerd.runc.v2', '--runc-binary', CLI, '--runc-systemd-cgroup',
      '--cgroup', `system.slice:runcell-ctr:${name}`, '--memory-limit', String(64 * MiB), 'localhost/busybox:latest', name, 'sleep', '1000');
    expect(started).toMatchObject({ code: 0 });
    try {
      const tasks = (await ctr('task', 'ls')).stdout;
      const pid = Number(new RegExp(`^${name}\\s+(\\d+)\\s+RUNNING`, 'm').exec(tasks)?.[1]);
      expect(pid).toBeGreaterThan(0);
      const unit = `runcell-ctr-${name}.scope`;
      expect(cgroupOf(pid)).toBe(`/system.slice/${unit}`);
      expect(unitShow(unit, 'ActiveState', 'MemoryMax')).toEqual({ ActiveState: 'active', MemoryMax: String(64 * MiB) });
      expect(read(`/system.slice/${unit}`, 'memory.max')).toBe(String(64 * MiB));
      expect(await ctr('task', 'kill', '-s', 'SIGKILL', name)).toMatchObject({ code: 0 });
      await waitFor(() => !new RegExp(`^${name}\\s+\\d+\\s+RUNNING`, 'm').test(execFileSync('ctr', ['-n', 'default', 'task', 'ls'], { encoding: 'utf8' })), 'the task to stop');
      expect(await ctr('task', 'rm', name)).toMatchObject({ code: 0 });
      await unloaded(unit);
    } finally {
      await ctr('task', 'rm', '-f', name);
      await ctr('container', 'rm', name);
    }
  }, VM_TIMEOUT_MS);
});
