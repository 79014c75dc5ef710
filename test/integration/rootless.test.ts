// Rootless: runcell run by an unprivileged user (made here, as root), with the bundle that
// `runcell spec --rootless` writes (a user namespace mapping the user alone to root), compared
// with runc run by the same user where the two should agree.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, commandExists, isRoot, run, tempDir, waitFor, type RunResult } from '../helpers/env';
import { makeBundle } from '../helpers/bundle';

const USER = 'runcell-rootless';

/** Why these tests cannot run here, or null. */
function whyNoRootless(): string | null {
  if (!isRoot) return 'needs root (to make the unprivileged user and its files)';
  if (!fs.existsSync('/bin/busybox')) return 'needs busybox-static';
  if (!commandExists('setpriv') || !commandExists('unshare')) return 'needs setpriv and unshare (util-linux)';
  for (const [file, off] of [['/proc/sys/kernel/unprivileged_userns_clone', '0'], ['/proc/sys/user/max_user_namespaces', '0']]) {
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8').trim() === off) return `unprivileged user namespaces are disabled (${file} is ${off})`;
  }
  return null;
}

const skip = whyNoRootless();
let uid = -1;
let gid = -1;
let dir: string;
let xdg: string;
let bundle: string;
const ids: string[] = [];

// The test user: made once, kept for the next run (a system account without a home or a shell).
function ensureUser(): void {
  try {
    execFileSync('id', ['-u', USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
  }
  uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }));
  gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }));
}

// The user's subordinate ranges (65536 ids each) in /etc/subuid and /etc/subgid, added after the
// others' on first use and kept with the user.
function subordinateIds(): { uid: number; gid: number } {
  const starts: number[] = [];
  for (const [file, option] of [['/etc/subuid', '--add-subuids'], ['/etc/subgid', '--add-subgids']]) {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').map((l) => l.split(':')) : [];
    let start = lines.find((l) => l[0] === USER && l.length === 3)?.[1];
    if (start === undefined) {
      const next = Math.max(400000, ...lines.filter((l) => l.length === 3).map((l) => Number(l[1]) + Number(l[2])));
      execFileSync('usermod', [option, `${next}-${next + 65535}`, USER]);
      start = String(next);
    }
    starts.push(Number(start));
  }
  return { uid: starts[0], gid: starts[1] };
}

function chownTree(file: string): void {
  fs.lchownSync(file, uid, gid);
  if (fs.lstatSync(file).isDirectory()) for (const entry of fs.readdirSync(file)) chownTree(path.join(file, entry));
}

function env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { PATH: `${path.dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`, XDG_RUNTIME_DIR: xdg, USER };
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete result[key];
    else result[key] = value;
  }
  return result;
}

/** runcell as the test user, in the bundle. */
function asUser(args: string[], extraEnv: Record<string, string | undefined> = {}): Promise<RunResult> {
  return run(CLI, args, { uid, gid, cwd: bundle, env: env(extraEnv) });
}

function runcAsUser(args: string[]): Promise<RunResult> {
  return run('runc', ['--root', path.join(xdg, 'runc'), ...args], { uid, gid, cwd: bundle, env: env() });
}

/** The config `runcell spec --rootless` wrote, edited as root, given back to the user. */
function editSpec(edit: (spec: any) => void): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  const file = path.join(bundle, 'config.json');
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'rootless.json'), 'utf8'));
  spec.process.terminal = false;
  spec.root.readonly = false;
  edit(spec);
  fs.writeFileSync(file, JSON.stringify(spec, null, 2));
  fs.chownSync(file, uid, gid);
}

// The pids of the test user's processes that still run (a zombie waits for the host's pid 1).
function userProcesses(): number[] {
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).flatMap((name) => {
    try {
      const status = fs.readFileSync(`/proc/${name}/status`, 'utf8');
      const owner = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      const state = /^State:\s+(\S)/m.exec(status)?.[1];
      return owner === uid && state !== 'Z' ? [Number(name)] : [];
    } catch {
      return [];
    }
  });
}

// Whether the process runs (and is not a zombie).
function runs(pid: number): boolean {
  try {
    return /^State:\s+[^Z]/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

function stateFiles(): string[] {
  const root = path.join(xdg, 'runcell');
  return fs.existsSync(root) ? fs.readdirSync(root) : [];
}

describe.skipIf(skip !== null)(`rootless${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    ensureUser();
    dir = tempDir('runcell-rootless-');
    fs.chmodSync(dir, 0o755);
    xdg = path.join(dir, 'xdg');
    fs.mkdirSync(xdg, { mode: 0o700 });
    fs.chownSync(xdg, uid, gid);
    bundle = makeBundle(path.join(dir, 'bundle'), ['true']);
    fs.rmSync(path.join(bundle, 'config.json'));
    chownTree(bundle);
    // Unprivileged user namespaces may be refused in ways no sysctl shows (a container, an LSM).
    const probe = await run('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', 'unshare', '--user', 'true']);
    if (probe.code !== 0) throw new Error(`user ${USER} cannot make a user namespace here: ${probe.stderr.trim()}`);
    const spec = await asUser(['spec', '--rootless']);
    expect(spec.stderr).toBe('');
    fs.renameSync(path.join(bundle, 'config.json'), path.join(bundle, 'rootless.json'));
  });

  afterEach(async () => {
    // Whatever a failed test left: its containers, by id, as the user who made them.
    for (const id of ids.splice(0)) {
      await asUser(['delete', '--force', id]);
      await runcAsUser(['delete', '--force', id]);
    }
  });

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs as root of its own user namespace; a file it writes belongs to the user outside; as under runc', async () => {
    editSpec((spec) => {
      spec.process.args = ['sh', '-c', 'id -u; id -g; cat /proc/self/uid_map /proc/self/setgroups; touch /tmp/made-inside'];
    });
    ids.push('rl-run');
    const result = await asUser(['run', 'rl-run']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    expect(lines).toEqual(['0', '0', `0 ${uid} 1`, 'deny']);
    const made = fs.statSync(path.join(bundle, 'rootfs/tmp/made-inside'));
    expect([made.uid, made.gid]).toEqual([uid, gid]);
    expect(stateFiles()).toEqual([]);
    // The state directory is the user's own, in its XDG_RUNTIME_DIR.
    const root = fs.statSync(path.join(xdg, 'runcell'));
    expect([root.uid, root.mode & 0o777]).toEqual([uid, 0o700]);

    fs.rmSync(path.join(bundle, 'rootfs/tmp/made-inside'));
    ids.push('rl-runc');
    const runc = await runcAsUser(['run', 'rl-runc']);
    expect(runc.code).toBe(0);
    expect(runc.stdout).toBe(result.stdout);
  });

  it('maps subordinate ranges through newuidmap and newgidmap: a user of the container owns its files as the subordinate id outside; as under runc', async (context) => {
    if (!commandExists('newuidmap') || !commandExists('newgidmap')) context.skip('needs newuidmap and newgidmap (the uidmap package)');
    const sub = subordinateIds();
    fs.chmodSync(path.join(bundle, 'rootfs/tmp'), 0o1777);
    // uid 1000 of the container, mapped through the subordinate range.
    const asSubordinate: Parameters<typeof editSpec>[0] = (spec) => {
      spec.linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }, { containerID: 1, hostID: sub.uid, size: 65536 }];
      spec.linux.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }, { containerID: 1, hostID: sub.gid, size: 65536 }];
      spec.process.user = { uid: 1000, gid: 1001 };
    };
    editSpec((spec) => {
      asSubordinate(spec);
      spec.process.args = ['sh', '-c', 'id -u; id -g; touch /tmp/by-1000; exec sleep 1000'];
    });
    ids.push('rl-sub');
    const created = await asUser(['run', '-d', 'rl-sub']);
    expect(created.stderr).toBe('');
    await waitFor(() => fs.existsSync(path.join(bundle, 'rootfs/tmp/by-1000')), 'the file of uid 1000');
    const made = fs.statSync(path.join(bundle, 'rootfs/tmp/by-1000'));
    expect([made.uid, made.gid]).toEqual([sub.uid + 999, sub.gid + 1000]);
    const exec = await asUser(['exec', '--user', '0:0', 'rl-sub', 'sh', '-c', 'cat /proc/self/uid_map; id -u']);
    expect(exec.stderr).toBe('');
    expect(exec.stdout.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '))).toEqual([`0 ${uid} 1`, `1 ${sub.uid} 65536`, '0']);
    expect((await asUser(['delete', '--force', 'rl-sub'])).stderr).toBe('');
    expect(stateFiles()).toEqual([]);
    fs.rmSync(path.join(bundle, 'rootfs/tmp/by-1000'));

    editSpec((spec) => {
      asSubordinate(spec);
      spec.process.args = ['sh', '-c', 'id -u; id -g; touch /tmp/by-1000'];
    });
    ids.push('rl-sub-runc');
    const runc = await runcAsUser(['run', 'rl-sub-runc']);
    expect(runc.stderr).toBe('');
    expect(runc.stdout).toBe('1000\n1001\n');
    expect(fs.statSync(path.join(bundle, 'rootfs/tmp/by-1000')).uid).toBe(sub.uid + 999);
    fs.rmSync(path.join(bundle, 'rootfs/tmp/by-1000'));
  });

  it('a mapping outside the user\'s subordinate ranges: newuidmap refuses, the error names the mapping, nothing is left', async (context) => {
    if (!commandExists('newuidmap') || !commandExists('newgidmap')) context.skip('needs newuidmap and newgidmap (the uidmap package)');
    const sub = subordinateIds();
    editSpec((spec) => {
      spec.linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }, { containerID: 1, hostID: sub.uid + 65536, size: 10 }];
    });
    ids.push('rl-badmap');
    const result = await asUser(['run', 'rl-badmap']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`write the uid map "0 ${uid} 1", "1 ${sub.uid + 65536} 10" with `);
    expect(stateFiles()).toEqual([]);
    await waitFor(() => userProcesses().length === 0, `no process of ${USER} left`);
  });

  it('exec, ps, kill, state, list and delete work on a running one; delete leaves nothing', async () => {
    editSpec((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    ids.push('rl-exec');
    expect((await asUser(['run', '-d', 'rl-exec'])).stderr).toBe('');
    const exec = await asUser(['exec', 'rl-exec', 'sh', '-c', 'id -u; touch /tmp/from-exec']);
    expect(exec.stderr).toBe('');
    expect(exec.stdout).toBe('0\n');
    expect(fs.statSync(path.join(bundle, 'rootfs/tmp/from-exec')).uid).toBe(uid);
    // A detached exec'd process is the container's too, though its parent is not the init.
    expect((await asUser(['exec', '-d', 'rl-exec', 'sleep', '999'])).stderr).toBe('');
    const ps = await asUser(['ps', '--format', 'json', 'rl-exec']);
    expect(ps.stderr).toBe('');
    const pids = JSON.parse(ps.stdout) as number[];
    const commands = pids.map((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
    expect(commands).toEqual(expect.arrayContaining(['sleep 1000', 'sleep 999']));
    const state = JSON.parse((await asUser(['state', 'rl-exec'])).stdout);
    expect(state.status).toBe('running');
    // The user may not mount: runcell-init runs from a sealed memfd copy, not a read-only bind.
    expect(fs.readlinkSync(`/proc/${state.pid}/exe`)).toBe('/memfd:runcell-init (deleted)');
    for (const command of ['update', 'events']) {
      const refused = await asUser(command === 'update' ? ['update', '--memory', '10M', 'rl-exec'] : ['events', '--stats', 'rl-exec']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('(it was created rootless, where no cgroup could be made for it)');
    }
    expect((await asUser(['list', '-q'])).stdout).toBe('rl-exec\n');

    expect((await asUser(['kill', '--all', 'rl-exec', 'KILL'])).stderr).toBe('');
    await waitFor(() => pids.every((pid) => !fs.existsSync(`/proc/${pid}/cmdline`) || fs.readFileSync(`/proc/${pid}/cmdline`).length === 0),
      'the container\'s processes to die');
    const deleted = await asUser(['delete', 'rl-exec']);
    expect(deleted.stderr).toBe('');
    expect(stateFiles()).toEqual([]);
    await waitFor(() => userProcesses().length === 0, `no process of ${USER} left`);
  });

  it('not yet rootless, refused by name: exec into a container before start', async () => {
    editSpec((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    ids.push('rl-created');
    expect((await run(CLI, ['create', 'rl-created'], { uid, gid, cwd: bundle, env: env(), stdio: ['ignore', 'ignore', 'pipe'] })).code).toBe(0);
    const early = await asUser(['exec', 'rl-created', 'id', '-u']);
    expect(early.code).not.toBe(0);
    expect(early.stderr).toContain('rootless, a container can be joined only once it is started');
    expect((await asUser(['start', 'rl-created'])).stderr).toBe('');
    expect((await asUser(['exec', 'rl-created', 'id', '-u'])).stdout).toBe('0\n');
    expect((await asUser(['delete', '--force', 'rl-created'])).stderr).toBe('');
    expect(stateFiles()).toEqual([]);
  });

  it('a sandbox (CRI annotations) of a root and two members: they share its user, pid, network, ipc and uts namespaces as their specs say; kill and delete leave nothing', async () => {
    const member = (spec: any, own: string[]) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      spec.annotations = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'rl-pod' };
      // A member's spec leaves out the namespaces it shares with its sandbox.
      spec.linux.namespaces = spec.linux.namespaces.filter((ns: { type: string }) => !['ipc', 'uts', 'network'].includes(ns.type) || own.includes(ns.type));
      if (!own.includes('uts')) delete spec.hostname; // the sandbox's
    };
    // The root: a network namespace of its own, whose loopback has a listener.
    editSpec((spec) => {
      spec.annotations = { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'rl-pod' };
      spec.linux.namespaces.push({ type: 'network' });
      spec.hostname = 'rl-pod';
      spec.process.args = ['sh', '-c', 'busybox nc -l -p 7777 -e echo pong & exec sleep 1000'];
    });
    ids.push('rl-pod');
    expect((await asUser(['run', '-d', 'rl-pod'])).stderr).toBe('');
    const pod = JSON.parse((await asUser(['state', 'rl-pod'])).stdout);
    const rootProcess = JSON.parse(fs.readFileSync(path.join(xdg, 'runcell', 'rl-pod_sandbox:rl-pod.state'), 'utf8')).user.pid as number;
    const nsOf = (pid: number, type: string) => fs.readlinkSync(`/proc/${pid}/ns/${type}`);

    // Member a joins the sandbox's network, ipc and uts namespaces: it reaches the root's
    // listener on 127.0.0.1 and reads its hostname.
    editSpec((spec) => {
      member(spec, []);
      spec.process.args = ['sh', '-c', 'hostname; for ns in user net ipc uts; do readlink /proc/self/ns/$ns; done; ' +
        'cat /proc/self/uid_map; until busybox nc 127.0.0.1 7777; do sleep 0.1; done'];
    });
    ids.push('rl-a');
    const a = await asUser(['run', 'rl-a']);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(a.stdout.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '))).toEqual(['rl-pod',
      ...['user', 'net', 'ipc', 'uts'].map((type) => nsOf(rootProcess, type)), `0 ${uid} 1`, 'pong']);

    // Member b: a uts namespace of its own (its spec lists one), the sandbox's ipc and network;
    // the sandbox's pid namespace (its init's is the root's user process's parent).
    editSpec((spec) => {
      member(spec, ['uts']);
      spec.hostname = 'rl-b';
      spec.process.args = ['sleep', '1000'];
    });
    ids.push('rl-b');
    expect((await asUser(['run', '-d', 'rl-b'])).stderr).toBe('');
    const b = JSON.parse((await asUser(['state', 'rl-b'])).stdout);
    const bProcess = JSON.parse(fs.readFileSync(path.join(xdg, 'runcell', 'rl-b_sandbox:rl-pod.state'), 'utf8')).user.pid as number;
    expect((await asUser(['exec', 'rl-b', 'hostname'])).stdout).toBe('rl-b\n');
    // ps of a member: its processes, not the sandbox's others.
    const ps = JSON.parse((await asUser(['ps', '--format', 'json', 'rl-b'])).stdout) as number[];
    expect(ps).toContain(bProcess);
    expect(ps).not.toContain(rootProcess);
    for (const type of ['user', 'net', 'ipc']) expect(nsOf(bProcess, type)).toBe(nsOf(rootProcess, type));
    expect(nsOf(bProcess, 'uts')).not.toBe(nsOf(rootProcess, 'uts'));
    expect(nsOf(b.pid, 'pid')).toBe(nsOf(pod.pid, 'pid'));
    expect(nsOf(bProcess, 'mnt')).not.toBe(nsOf(rootProcess, 'mnt'));
    expect((await asUser(['list', '-q'])).stdout.split('\n').filter(Boolean).sort()).toEqual(['rl-b', 'rl-pod']);

    // kill and delete of a member leave the sandbox running.
    expect((await asUser(['kill', 'rl-b', 'KILL'])).stderr).toBe('');
    await waitFor(() => !runs(b.pid), 'member b\'s init to end');
    expect((await asUser(['delete', 'rl-b'])).stderr).toBe('');
    expect(JSON.parse((await asUser(['state', 'rl-pod'])).stdout).status).toBe('running');

    // Deleting the root takes down the sandbox with its members.
    editSpec((spec) => {
      member(spec, []);
      spec.process.args = ['sleep', '1000'];
    });
    ids.push('rl-c');
    expect((await asUser(['run', '-d', 'rl-c'])).stderr).toBe('');
    expect((await asUser(['delete', '--force', 'rl-pod'])).stderr).toBe('');
    expect(stateFiles()).toEqual([]);
    await waitFor(() => userProcesses().length === 0, `no process of ${USER} left`);
  });

  it('a member of a sandbox in the host\'s network shares it; a member whose maps differ from its sandbox\'s, of a sandbox without a pid namespace, or of another user\'s sandbox, is refused clearly and leaves nothing', async () => {
    editSpec((spec) => {
      spec.annotations = { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'rl-pod2' };
      spec.process.args = ['sleep', '1000'];
    });
    ids.push('rl-pod2');
    expect((await asUser(['run', '-d', 'rl-pod2'])).stderr).toBe('');
    // A sandbox of `spec --rootless` shares the host's network: so does its member (whose init is
    // in it already, and could not join it again from the sandbox's user namespace).
    editSpec((spec) => {
      spec.annotations = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'rl-pod2' };
      spec.process.args = ['readlink', '/proc/self/ns/net'];
    });
    ids.push('rl-hostnet');
    const hostNet = await asUser(['run', 'rl-hostnet']);
    expect(hostNet.stderr).toBe('');
    expect(hostNet.stdout).toBe(`${fs.readlinkSync('/proc/self/ns/net')}\n`);
    editSpec((spec) => {
      spec.annotations = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'rl-pod2' };
      spec.linux.uidMappings = [{ containerID: 1, hostID: uid, size: 1 }];
    });
    ids.push('rl-badmember');
    const badMaps = await asUser(['run', 'rl-badmember']);
    expect(badMaps.code).not.toBe(0);
    expect(badMaps.stderr).toContain('config.linux.uidMappings: [{"containerID":1,');
    expect(badMaps.stderr).toContain('differ from those of sandbox "rl-pod2"');
    expect(stateFiles().filter((file) => file.startsWith('rl-badmember'))).toEqual([]);
    expect((await asUser(['delete', '--force', 'rl-pod2'])).stderr).toBe('');

    // A sandbox in the host's pid namespace: no namespace of its that the user may reach.
    editSpec((spec) => {
      spec.annotations = { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'rl-pod3' };
      spec.linux.namespaces = spec.linux.namespaces.filter((ns: { type: string }) => ns.type !== 'pid');
      // A procfs of the host's pid namespace is not the user's to mount.
      spec.mounts = spec.mounts.filter((m: { destination: string }) => m.destination !== '/proc');
      spec.process.args = ['sleep', '1000'];
    });
    ids.push('rl-pod3');
    expect((await asUser(['run', '-d', 'rl-pod3'])).stderr).toBe('');
    editSpec((spec) => {
      spec.annotations = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'rl-pod3' };
    });
    const noPidNs = await asUser(['run', 'rl-badmember']);
    expect(noPidNs.stderr).toBe('runcell: cannot create container "rl-badmember": sandbox "rl-pod3" has no pid namespace of its own ' +
      '(its config.linux.namespaces has no "pid" entry without a path): a rootless subcontainer cannot join it\n');
    expect((await asUser(['delete', '--force', 'rl-pod3'])).stderr).toBe('');

    // Root's sandbox, in a state directory of root's: not this user's to join.
    const rootDir = tempDir('runcell-rootless-root-');
    fs.chmodSync(rootDir, 0o711);
    const rootBundle = makeBundle(path.join(dir, 'root-bundle'), ['sleep', '1000'], (spec) => {
      spec.annotations = { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'rl-rootpod' };
    });
    try {
      expect((await run(CLI, ['--root', rootDir, 'run', '-d', '-b', rootBundle, 'rl-rootpod'])).stderr).toBe('');
      editSpec((spec) => {
        spec.annotations = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'rl-rootpod' };
      });
      const foreign = await asUser(['--root', rootDir, 'run', 'rl-foreign']);
      expect(foreign.code).not.toBe(0);
      expect(foreign.stderr).toMatch(/^runcell: cannot create container "rl-foreign": sandbox "rl-rootpod" is not this user's to join \(uid \d+: EACCES: permission denied, open '.*rl-rootpod_sandbox:rl-rootpod\.lock'\); a rootless container joins only a sandbox of its own user\n$/);
    } finally {
      await run(CLI, ['--root', rootDir, 'delete', '--force', 'rl-rootpod']);
      fs.rmSync(rootDir, { recursive: true, force: true });
    }
    expect(stateFiles()).toEqual([]);
    await waitFor(() => userProcesses().length === 0, `no process of ${USER} left`);
  });

  it('pause without a cgroup is a clear error; delete --force stops it', async () => {
    editSpec((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    ids.push('rl-pause');
    expect((await asUser(['run', '-d', 'rl-pause'])).stderr).toBe('');
    const pause = await asUser(['pause', 'rl-pause']);
    expect(pause.code).not.toBe(0);
    expect(pause.stderr).toContain('has no cgroup to freeze (it was created rootless');
    expect((await asUser(['delete', '--force', 'rl-pause'])).stderr).toBe('');
    expect(stateFiles()).toEqual([]);
    await waitFor(() => userProcesses().length === 0, `no process of ${USER} left`);
  });

  it('a memory limit without a cgroup the user may make is refused, naming it, and leaves nothing; runc refuses too', async () => {
    const delegated = await run('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', 'sh', '-c',
      'for d in /sys/fs/cgroup /sys/fs/cgroup/memory /sys/fs/cgroup/unified; do test -w $d && exit 0; done; exit 1']);
    if (delegated.code === 0) return; // a delegated cgroup: the limit would be had (the VM's test)
    editSpec((spec) => {
      spec.linux.resources = { memory: { limit: 64 * 1024 * 1024 } };
    });
    ids.push('rl-limit');
    const result = await asUser(['run', 'rl-limit']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/config\.linux\.resources\.memory\.limit: rootless, the container has no cgroup to enforce limits in/);
    expect(stateFiles()).toEqual([]);
    await waitFor(() => userProcesses().length === 0, `no process of ${USER} left`);
    ids.push('rl-limit-runc');
    const runc = await runcAsUser(['run', 'rl-limit-runc']);
    expect(runc.code).not.toBe(0);
    expect(runc.stderr).toContain('cannot set memory limit: container could not join or create cgroup');
  });

  it('refuses by name what a user cannot have (a lower oomScoreAdj, no user namespace, an unmapped mount owner), and explains a missing XDG_RUNTIME_DIR', async () => {
    editSpec((spec) => {
      spec.process.oomScoreAdj = -10;
    });
    ids.push('rl-oom');
    const oom = await asUser(['run', 'rl-oom']);
    expect(oom.code).not.toBe(0);
    expect(oom.stderr).toContain('config.process.oomScoreAdj: -10 is below this user\'s own oom_score_adj');
    expect(stateFiles()).toEqual([]);

    // What runc's rootless validation refuses too: a spec without a user namespace, a mount
    // option naming an unmapped owner (a root's devpts gid=5).
    editSpec((spec) => {
      spec.linux.namespaces = spec.linux.namespaces.filter((ns: { type: string }) => ns.type !== 'user');
    });
    ids.push('rl-nouserns');
    const noUserNs = await asUser(['run', 'rl-nouserns']);
    expect(noUserNs.code).not.toBe(0);
    expect(noUserNs.stderr).toContain(`config.linux.namespaces: a user other than root (uid ${uid}) needs a user namespace`);
    editSpec((spec) => {
      spec.mounts.find((m: { destination: string }) => m.destination === '/dev/pts').options.push('gid=5');
    });
    ids.push('rl-gid5');
    const gid5 = await asUser(['run', 'rl-gid5']);
    expect(gid5.code).not.toBe(0);
    expect(gid5.stderr).toMatch(/config\.mounts\[\d+\]\.options: "gid=5": gid 5 is not mapped/);
    const runcGid5 = await runcAsUser(['run', 'rl-gid5']);
    expect(runcGid5.stderr).toContain('cannot specify gid= mount options for unmapped gid in rootless containers');
    expect(stateFiles()).toEqual([]);

    editSpec(() => {});
    ids.push('rl-systemd');
    const systemd = await asUser(['--systemd-cgroup', 'run', 'rl-systemd']);
    expect(systemd.code).not.toBe(0);
    // This host has no systemd (the user's own instance is tested in the VM: test/vm/rootless.test.ts).
    expect(systemd.stderr).toContain('--systemd-cgroup: this host does not run systemd (/run/systemd/system does not exist)');
    expect(stateFiles()).toEqual([]);

    const list = await asUser(['list'], { XDG_RUNTIME_DIR: undefined });
    expect(list.code).not.toBe(0);
    expect(list.stderr).toContain('XDG_RUNTIME_DIR is not set');
    // --root needs no XDG_RUNTIME_DIR; spec needs no root directory at all.
    expect((await asUser(['--root', path.join(xdg, 'runcell'), 'list', '-q'], { XDG_RUNTIME_DIR: undefined })).code).toBe(0);
  });
});
