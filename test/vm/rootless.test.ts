// Rootless on a modern host (the test VM: Debian 12, systemd 252 as PID 1, pure cgroup v2), as
// the VM's unprivileged user runcelltest (uid 1500, subordinate ids 100000:65536), whose own
// systemd instance (user@1500.service, started by lingering) is delegated cpu, memory and pids:
//   - a container with its own uid mapped alone, and with the subordinate ranges (runc run by
//     the same user as the oracle);
//   - run from a unit of the user's instance (systemd-run --user --scope), the container's
//     cgroup is made in that delegated subtree: exec, pause/resume, ps, kill --all, delete;
//   - --systemd-cgroup: a scope of the user's instance with the limits as its properties;
//   - limits that cannot hold are refused by name: a controller that is not delegated (cpuset),
//     and any limit where no cgroup is the user's (run from root's session);
//   - rootless podman with runcell as its runtime.
// Runs only in the VM (RUNCELL_VM=1, set by test/vm/run); elsewhere it is skipped, saying so.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, commandExists, isRoot, run, tempDir, waitFor, type RunResult } from '../helpers/env';

const inVM = process.env.RUNCELL_VM === '1';
const USER = 'runcelltest';
const UID = 1500;
const SUBORDINATE = 100000;
const XDG = `/run/user/${UID}`;
const MANAGER_CGROUP = `/user.slice/user-${UID}.slice/user@${UID}.service`;
const CGROUP_ROOT = '/sys/fs/cgroup';
const ROOTFS = '/var/lib/runcell-vm/busybox-rootfs';
// Under TCG emulation on a busy host a container takes seconds, podman tens of seconds.
const VM_TIMEOUT_MS = 300_000;
const MiB = 1024 * 1024;

function whyNot(): string | null {
  if (!inVM) return 'runs in the test VM only, npm run test:vm';
  if (!isRoot) return 'needs root (to start the user\'s systemd instance and make its bundle)';
  for (const command of ['runuser', 'systemd-run', 'loginctl', 'runc']) if (!commandExists(command)) return `needs ${command}`;
  if (!fs.existsSync(ROOTFS)) return `needs the VM's busybox root filesystem ${ROOTFS}`;
  return null;
}
const skip = whyNot();

let dir: string;
let bundle: string;
let serial = 0;
const ids: string[] = [];
const newId = (what: string) => {
  const id = `rl-${what}-${process.pid}-${serial++}`;
  ids.push(id);
  return id;
};

/** A command as runcelltest, with its session's environment; `scope`: in a unit of its own systemd instance. */
function asUser(command: string[], options: { scope?: boolean } = {}): Promise<RunResult> {
  const env = [`PATH=${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`, `HOME=${dir}/home`, `USER=${USER}`,
    `XDG_RUNTIME_DIR=${XDG}`, `DBUS_SESSION_BUS_ADDRESS=unix:path=${XDG}/bus`];
  const scope = options.scope ? ['systemd-run', '--user', '--scope', '--quiet', '--'] : [];
  return run('runuser', ['-u', USER, '--', 'env', '-i', ...env, ...scope, ...command], { cwd: bundle });
}
const rc = (args: string[], options: { scope?: boolean } = {}) => asUser([CLI, ...args], options);
/** `systemctl --user show UNIT -p A -p B` as the user: the properties as an object. */
async function userUnitShow(unit: string, ...properties: string[]): Promise<Record<string, string>> {
  const { stdout } = await asUser(['systemctl', '--user', 'show', unit, ...properties.flatMap((p) => ['-p', p])]);
  return Object.fromEntries(stdout.split('\n').filter(Boolean).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

/** waitFor for a condition that asks a command: checked again until it holds, or it fails naming `what`. */
async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

/** The config of `runcell spec --rootless` (kept as rootless.json), edited, given to the user. */
function writeSpec(args: string[], edit: (spec: any) => void = () => {}): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'rootless.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = args;
  spec.root.readonly = false;
  edit(spec);
  const file = path.join(bundle, 'config.json');
  fs.writeFileSync(file, JSON.stringify(spec, null, 2));
  fs.chownSync(file, UID, UID);
}

const stateOf = async (id: string) => JSON.parse((await rc(['state', id])).stdout) as { pid: number; status: string };
const cgroupOf = (pid: number) => fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().replace(/^0::/, '');
const read = (cgroup: string, file: string) => fs.readFileSync(path.join(CGROUP_ROOT, cgroup, file), 'utf8').trim();
const stateFiles = () => (fs.existsSync(path.join(XDG, 'runcell')) ? fs.readdirSync(path.join(XDG, 'runcell')) : []);

/** The cgroups under the user's instance that name a container of ours. */
function leftCgroups(): string[] {
  const found: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(CGROUP_ROOT, rel), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      if (entry.name.includes(`rl-`)) found.push(path.join(rel, entry.name));
      walk(path.join(rel, entry.name));
    }
  };
  walk(MANAGER_CGROUP);
  return found;
}

describe.skipIf(skip !== null)(`rootless in the VM, as ${USER}${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    // The user's systemd instance (and its bus) run while the user lingers.
    execFileSync('loginctl', ['enable-linger', USER]);
    await waitFor(() => fs.existsSync(path.join(XDG, 'bus')), `the user bus ${XDG}/bus`, 60_000);
    dir = tempDir('runcell-vm-rootless-');
    fs.chmodSync(dir, 0o755);
    fs.mkdirSync(path.join(dir, 'home'));
    fs.chownSync(path.join(dir, 'home'), UID, UID);
    bundle = path.join(dir, 'bundle');
    fs.mkdirSync(bundle);
    execFileSync('cp', ['-a', ROOTFS, path.join(bundle, 'rootfs')]);
    execFileSync('chown', ['-R', `${UID}:${UID}`, bundle]);
    const spec = await rc(['spec', '--rootless']);
    expect(spec).toMatchObject({ code: 0, stderr: '' });
    fs.renameSync(path.join(bundle, 'config.json'), path.join(bundle, 'rootless.json'));
  }, VM_TIMEOUT_MS);

  afterEach(async () => {
    for (const id of ids.splice(0)) {
      await rc(['delete', '--force', id]);
      await asUser(['runc', '--root', path.join(XDG, 'runc'), 'delete', '--force', id]);
    }
  }, VM_TIMEOUT_MS);

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs with its own uid mapped alone: root inside, the file it writes the user\'s outside, as under runc', async () => {
    const script = 'id -u; id -g; echo x > /tmp/single; stat -c "%u %g" /tmp/single';
    writeSpec(['sh', '-c', script]);
    const ours = await rc(['run', newId('single')], { scope: true });
    expect(ours).toMatchObject({ code: 0, stderr: '' });
    expect(ours.stdout).toBe('0\n0\n0 0\n');
    const outside = fs.statSync(path.join(bundle, 'rootfs/tmp/single'));
    expect([outside.uid, outside.gid]).toEqual([UID, UID]);
    fs.rmSync(path.join(bundle, 'rootfs/tmp/single'));
    const runc = await asUser(['runc', '--root', path.join(XDG, 'runc'), 'run', newId('single-runc')], { scope: true });
    expect(runc).toMatchObject({ code: 0, stdout: ours.stdout });
    expect(fs.statSync(path.join(bundle, 'rootfs/tmp/single')).uid).toBe(UID);
    fs.rmSync(path.join(bundle, 'rootfs/tmp/single'));
  }, VM_TIMEOUT_MS);

  it('runs with the subordinate ranges (newuidmap): root inside is the user outside, uid 1000 inside is 100999', async () => {
    const script = 'id -u; echo x > /tmp/sub; echo y > /tmp/sub1000; chown 1000:1000 /tmp/sub1000; stat -c "%u %g" /tmp/sub1000';
    writeSpec(['sh', '-c', script], (spec) => {
      for (const kind of ['uidMappings', 'gidMappings']) spec.linux[kind] = [{ containerID: 0, hostID: UID, size: 1 }, { containerID: 1, hostID: SUBORDINATE, size: 65536 }];
      for (const set of ['bounding', 'effective', 'permitted']) spec.process.capabilities[set].push('CAP_CHOWN');
    });
    const ours = await rc(['run', newId('sub')], { scope: true });
    expect(ours).toMatchObject({ code: 0, stderr: '', stdout: '0\n1000 1000\n' });
    const owner = (file: string) => {
      const st = fs.statSync(path.join(bundle, 'rootfs/tmp', file));
      return [st.uid, st.gid];
    };
    expect(owner('sub')).toEqual([UID, UID]);
    expect(owner('sub1000')).toEqual([SUBORDINATE + 999, SUBORDINATE + 999]);
    for (const file of ['sub', 'sub1000']) fs.rmSync(path.join(bundle, 'rootfs/tmp', file));
    const runc = await asUser(['runc', '--root', path.join(XDG, 'runc'), 'run', newId('sub-runc')], { scope: true });
    expect(runc).toMatchObject({ code: 0, stdout: ours.stdout });
    expect(owner('sub1000')).toEqual([SUBORDINATE + 999, SUBORDINATE + 999]);
    for (const file of ['sub', 'sub1000']) fs.rmSync(path.join(bundle, 'rootfs/tmp', file));
  }, VM_TIMEOUT_MS);

  it('run from the user\'s systemd instance: a cgroup in its delegated subtree, with exec, update, events, pause/resume, ps, kill --all and delete', async () => {
    writeSpec(['sh', '-c', 'sleep 1000 & wait'], (spec) => {
      spec.linux.resources = { memory: { limit: 64 * MiB }, pids: { limit: 50 } };
    });
    const id = newId('delegated');
    expect(await rc(['run', '-d', id], { scope: true })).toMatchObject({ code: 0, stderr: '' });
    const { pid, status } = await stateOf(id);
    expect(status).toBe('running');
    // Next to the scope systemd-run made for runcell: app.slice, the user's.
    const cgroup = `${MANAGER_CGROUP}/app.slice/runcell-${id}`;
    expect(cgroupOf(pid)).toBe(cgroup);
    expect(fs.statSync(path.join(CGROUP_ROOT, cgroup)).uid).toBe(UID);
    expect(read(cgroup, 'memory.max')).toBe(String(64 * MiB));
    expect(read(cgroup, 'pids.max')).toBe('50');

    // exec from a unit of the user's instance joins the cgroup and the namespaces.
    const exec = await rc(['exec', id, 'sh', '-c', 'id -u; cat /proc/self/cgroup'], { scope: true });
    expect(exec).toMatchObject({ code: 0, stderr: '' });
    expect(exec.stdout).toBe(`0\n0::${cgroup}\n`);
    // From root's session the kernel would not let it in (the common ancestor is /user.slice): said so.
    const outside = await rc(['exec', id, 'true']);
    expect(outside.code).not.toBe(0);
    expect(outside.stderr).toContain(`may not move into the container's cgroup "${cgroup}"`);
    expect(outside.stderr).toContain('/sys/fs/cgroup/user.slice/cgroup.procs');

    // update: a delegated controller's limit changes; one not delegated is refused by name.
    expect(await rc(['update', '--memory', String(96 * MiB), id])).toMatchObject({ code: 0, stderr: '' });
    expect(read(cgroup, 'memory.max')).toBe(String(96 * MiB));
    const cpuset = await rc(['update', '--cpuset-cpus', '0', id]);
    expect(cpuset.code).toBe(1);
    expect(cpuset.stderr).toContain(`linux.resources.cpu.cpus: the cpuset cgroup controller is not delegated to uid ${UID}`);
    // events reads the user's cgroup.
    const events = await rc(['events', '--stats', id]);
    expect(JSON.parse(events.stdout).data.memory.usage.limit).toBe(96 * MiB);

    expect(await rc(['pause', id])).toMatchObject({ code: 0, stderr: '' });
    expect(read(cgroup, 'cgroup.freeze')).toBe('1');
    expect((await stateOf(id)).status).toBe('paused');
    expect(await rc(['resume', id])).toMatchObject({ code: 0, stderr: '' });
    expect(read(cgroup, 'cgroup.freeze')).toBe('0');
    expect((await stateOf(id)).status).toBe('running');

    const procs = read(cgroup, 'cgroup.procs').split('\n').map(Number).sort();
    expect(procs.length).toBe(3); // init, sh, sleep
    expect(JSON.parse((await rc(['ps', '-f', 'json', id])).stdout).sort()).toEqual(procs);
    expect(await rc(['kill', '--all', id, 'KILL'])).toMatchObject({ code: 0, stderr: '' });
    await waitFor(() => read(cgroup, 'cgroup.procs') === '', 'the container\'s processes to die');
    expect(await rc(['delete', id])).toMatchObject({ code: 0, stderr: '' });
    expect(fs.existsSync(path.join(CGROUP_ROOT, cgroup))).toBe(false);
    expect(stateFiles().filter((f) => f.includes(id))).toEqual([]);
  }, VM_TIMEOUT_MS);

  it('--systemd-cgroup: a scope of the user\'s instance with the memory limit as its property, seen inside; nothing left', async () => {
    writeSpec(['sh', '-c', '{ cat /sys/fs/cgroup/memory.max; cat /proc/self/cgroup; } > /tmp/seen.tmp; mv /tmp/seen.tmp /tmp/seen; sleep 1000'], (spec) => {
      spec.linux.resources = { memory: { limit: 64 * MiB } };
    });
    const id = newId('scope');
    const unit = `runcell-${id}.scope`;
    const cgroup = `${MANAGER_CGROUP}/user.slice/${unit}`;
    // From root's session, not a unit of the user's: the user's systemd moves the init (through
    // PID 1, which may move it out of root's session scope).
    expect(await rc(['--systemd-cgroup', 'run', '-d', id])).toMatchObject({ code: 0, stderr: '' });
    const seen = path.join(bundle, 'rootfs/tmp/seen');
    await waitFor(() => fs.existsSync(seen), 'what the container saw');
    // The rootless spec has no cgroup namespace: the path is the host's.
    expect(fs.readFileSync(seen, 'utf8')).toBe(`${64 * MiB}\n0::${cgroup}\n`);
    fs.rmSync(seen);
    expect(await userUnitShow(unit, 'ActiveState', 'ControlGroup', 'Delegate', 'MemoryMax'))
      .toEqual({ ActiveState: 'active', ControlGroup: cgroup, Delegate: 'yes', MemoryMax: String(64 * MiB) });
    const { pid } = await stateOf(id);
    expect(cgroupOf(pid)).toBe(cgroup);
    expect(read(cgroup, 'memory.max')).toBe(String(64 * MiB));
    // pause works on the scope's cgroup, which is the user's.
    expect(await rc(['pause', id])).toMatchObject({ code: 0, stderr: '' });
    expect(read(cgroup, 'cgroup.freeze')).toBe('1');
    expect(await rc(['resume', id])).toMatchObject({ code: 0, stderr: '' });
    expect(await rc(['delete', '--force', id])).toMatchObject({ code: 0, stderr: '' });
    await waitFor(() => !fs.existsSync(path.join(CGROUP_ROOT, cgroup)), 'the scope\'s cgroup to go');
    // Stopped, the transient unit is collected: systemd knows it no more.
    await until(async () => (await userUnitShow(unit, 'LoadState')).LoadState === 'not-found', `the user's systemd to unload ${unit}`);
    expect(stateFiles().filter((f) => f.includes(id))).toEqual([]);
  }, VM_TIMEOUT_MS);

  it('a limit of a controller not delegated to the user (cpuset) is refused by name, with and without systemd; nothing left', async () => {
    writeSpec(['true'], (spec) => {
      spec.linux.resources = { cpu: { cpus: '0' } };
    });
    for (const [args, scope] of [[[], true], [['--systemd-cgroup'], false]] as const) {
      const id = newId('cpuset');
      const result = await rc([...args, 'run', id], { scope });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`config.linux.resources.cpu.cpus: the cpuset cgroup controller is not delegated to uid ${UID}`);
      expect(stateFiles().filter((f) => f.includes(id))).toEqual([]);
    }
    expect(leftCgroups()).toEqual([]);
  }, VM_TIMEOUT_MS);

  it('a memory limit where no cgroup is the user\'s (run from root\'s session, no --systemd-cgroup) is refused as runc refuses it', async () => {
    writeSpec(['true'], (spec) => {
      spec.linux.resources = { memory: { limit: 64 * MiB } };
    });
    const id = newId('nodelegation');
    const result = await rc(['run', id]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('config.linux.resources.memory.limit: rootless, the container has no cgroup to enforce limits in');
    expect(stateFiles().filter((f) => f.includes(id))).toEqual([]);
    // runc refuses it too (its message: "container could not join or create cgroup").
    const runc = await asUser(['runc', '--root', path.join(XDG, 'runc'), 'run', newId('nodelegation-runc')]);
    expect(runc.code).not.toBe(0);
    // --systemd-cgroup without a user bus to ask the user's systemd on: said so.
    const noBus = await run('runuser', ['-u', USER, '--', 'env', '-i', `PATH=${path.dirname(process.execPath)}:/usr/bin:/bin`, `USER=${USER}`,
      `XDG_RUNTIME_DIR=${dir}/home`, CLI, '--root', `${dir}/home/runcell`, '--systemd-cgroup', 'run', newId('nobus')], { cwd: bundle });
    expect(noBus.code).toBe(1);
    expect(noBus.stderr).toContain('--systemd-cgroup (rootless): there is no user bus to reach the user\'s systemd instance on');
  }, VM_TIMEOUT_MS);

  it.skipIf(!commandExists('podman'))('rootless podman runs with runcell as its runtime: root inside, the --memory limit seen; exec, pause, rm', async () => {
    // The user's own image store (the VM README): imported once, from the VM's busybox tarball.
    if ((await asUser(['podman', 'image', 'exists', 'localhost/busybox'])).code !== 0) {
      expect(await asUser(['podman', 'import', `${ROOTFS}.tar`, 'localhost/busybox'])).toMatchObject({ code: 0 });
    }
    const script = 'id -u; cat /sys/fs/cgroup/memory.max; echo hi';
    const ours = await asUser(['podman', '--runtime', CLI, 'run', '--rm', '--memory', '64m', 'localhost/busybox', 'sh', '-c', script]);
    expect(ours).toMatchObject({ code: 0, stdout: `0\n${64 * MiB}\nhi\n` });
    // podman's own runtime (crun) sees the same.
    const theirs = await asUser(['podman', 'run', '--rm', '--memory', '64m', 'localhost/busybox', 'sh', '-c', script]);
    expect(theirs).toMatchObject({ code: 0, stdout: ours.stdout });
    expect(stateFiles()).toEqual([]);

    // A detached one: exec (conmon runs it from the user's instance), pause and unpause, rm.
    const podman = (...args: string[]) => asUser(['podman', '--runtime', CLI, ...args]);
    const name = `rl-podman-${process.pid}`;
    expect(await podman('run', '-d', '--name', name, 'localhost/busybox', 'sleep', '1000')).toMatchObject({ code: 0 });
    try {
      // podman makes a cgroup namespace: the container sees its own cgroup as the root.
      expect(await podman('exec', name, 'sh', '-c', 'id -u; cat /proc/self/cgroup')).toMatchObject({ code: 0, stdout: '0\n0::/\n' });
      expect(await podman('pause', name)).toMatchObject({ code: 0 });
      expect((await podman('inspect', '--format', '{{.State.Status}}', name)).stdout.trim()).toBe('paused');
      expect(await podman('unpause', name)).toMatchObject({ code: 0 });
      expect((await podman('inspect', '--format', '{{.State.Status}}', name)).stdout.trim()).toBe('running');
      expect(await podman('rm', '-f', '-t', '0', name)).toMatchObject({ code: 0 });
    } finally {
      await podman('rm', '-f', '-t', '0', name);
    }
    expect(stateFiles()).toEqual([]);
    expect(leftCgroups()).toEqual([]);
  }, VM_TIMEOUT_MS);
});
