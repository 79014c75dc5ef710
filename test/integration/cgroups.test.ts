// Cgroups on this host (v1 controllers, or hybrid, or v2), pause/resume, ps, kill --all.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cgroup, detectLayout, isPureV2, recordLayout } from '../../src/container/cgroups';
import { containerResources } from '../../src/container/lifecycle';
import { ContainerError } from '../../src/container/errors';
import { lineReader } from '../../src/lines';
import { CLI, childEnv, commandExists, run, runcell, sleep, waitFor, useScratchContainer } from '../helpers/env';
import { makeBundle, whyNoContainers } from '../helpers/bundle';

const skip = whyNoContainers();
let dir: string;
let root: string;
let id: string;
useScratchContainer('cg', (d, r, i) => ([dir, root, id] = [d, r, i])); // ids unique: cgroups are host-wide

const rc = (...args: string[]) => runcell(['--root', root, ...args]);

function bundleWith(script: string, resources: object = {}) {
  return makeBundle(path.join(dir, 'bundle'), ['sh', '-c', script], (spec) => {
    spec.linux.resources = { ...spec.linux.resources, ...resources };
    spec.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
  });
}

describe.skipIf(skip !== null)(`cgroups${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('puts the init and everything it starts in the cgroup, with the limits of the spec', async () => {
    const bundle = bundleWith('sleep 1000 & sleep 1000 & wait', {
      memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 50 }, cpu: { shares: 512, quota: 50000, period: 100000 },
    });
    expect(await rc('run', '-d', '-b', bundle, id)).toMatchObject({ code: 0 });
    const cgroup = new Cgroup(detectLayout(), `/runcell/${id}`);
    const state = JSON.parse((await rc('state', id)).stdout);
    const pids = cgroup.pids();
    expect(pids).toContain(state.pid);
    expect(pids.length).toBe(4); // init, sh, two sleeps
    const read = (controller: string, v1: string, v2: string) => fs.readFileSync(
      cgroup.isV2 ? path.join(detectLayout().unified!, `/runcell/${id}`, v2) : path.join(detectLayout().v1.get(controller)!, `/runcell/${id}`, v1), 'utf8').trim();
    expect(read('memory', 'memory.limit_in_bytes', 'memory.max')).toBe(String(64 * 1024 * 1024));
    expect(read('pids', 'pids.max', 'pids.max')).toBe('50');
    if (!cgroup.isV2) expect(read('cpu', 'cpu.cfs_quota_us', 'cpu.max')).toBe('50000');
    const json = JSON.parse((await rc('ps', '--format', 'json', id)).stdout);
    expect(json.sort()).toEqual(pids.sort());
    const table = (await rc('ps', id)).stdout.split('\n');
    expect(table[0]).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/); // ps -ef's, as runc
    expect(table.filter((l) => /\ssleep 1000$/.test(l))).toHaveLength(2);
    expect(await rc('kill', '--all', id, 'KILL')).toMatchObject({ code: 0 });
    expect(JSON.parse((await rc('wait', id)).stdout).exitStatus).toBe(137);
    expect(await rc('delete', id)).toMatchObject({ code: 0 });
    for (const d of cgroup.directories()) expect(fs.existsSync(d)).toBe(false);
  });

  it('pause stops a counting process and resume lets it go on; repeating either is refused', async () => {
    const counter = path.join(dir, 'count');
    fs.writeFileSync(counter, '0');
    const bundle = makeBundle(path.join(dir, 'bundle'), ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /data/count; sleep 0.02; done'], (spec) => {
      spec.mounts.push({ destination: '/data', type: 'bind', source: dir, options: ['rbind', 'rw'] });
    });
    await rc('run', '-d', '-b', bundle, id);
    const count = () => Number(fs.readFileSync(counter, 'utf8') || 0);
    await waitFor(() => count() > 0, 'the container to count');
    expect(await rc('pause', id)).toMatchObject({ code: 0 });
    expect(JSON.parse((await rc('state', id)).stdout).status).toBe('paused');
    const frozenAt = count();
    await sleep(300); // a running counter writes every 20 ms; a frozen one never does
    expect(count()).toBe(frozenAt);
    expect((await rc('pause', id)).stderr).toBe(`runcell: cannot pause container "${id}" in state paused\n`);
    expect(await rc('resume', id)).toMatchObject({ code: 0 });
    await waitFor(() => count() > frozenAt, 'the container to count on after resume');
    expect((await rc('resume', id)).stderr).toBe(`runcell: cannot resume container "${id}" in state running\n`);
    // delete --force of a paused container thaws and kills it.
    await rc('pause', id);
    expect(await rc('delete', '--force', id)).toMatchObject({ code: 0 });
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('pause, resume, ps, exec and kill --all find the cgroup in the hierarchies create recorded, or, without them (an older record), on the host', async () => {
    const bundle = bundleWith('sleep 1000');
    expect(await rc('run', '-d', '-b', bundle, id)).toMatchObject({ code: 0 });
    const stateFile = fs.readdirSync(root).map((f) => path.join(root, f)).find((f) => f.endsWith('.state'))!;
    const record = () => JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    const rewrite = (change: (r: Record<string, unknown>) => void) => {
      const r = record();
      change(r);
      fs.writeFileSync(stateFile, JSON.stringify(r));
    };
    expect(record().cgroupLayout).toEqual(recordLayout(detectLayout()));
    // Hierarchies that hold no such cgroup: the recorded ones are the ones used.
    const elsewhere = isPureV2(detectLayout()) ? { v1: {}, unified: path.join(dir, 'nowhere') } : { v1: { freezer: path.join(dir, 'nowhere') }, unified: null };
    rewrite((r) => (r.cgroupLayout = elsewhere));
    const refused = await rc('pause', id);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(path.join(dir, 'nowhere', 'runcell', id));
    const execRefused = await rc('exec', id, 'true');
    expect(execRefused.code).not.toBe(0);
    expect(execRefused.stderr).toContain(path.join(dir, 'nowhere', 'runcell', id));
    // A record without them, or with something that is not a layout: the host's.
    for (const layout of [undefined, { v1: { freezer: 'relative' }, unified: null }, { v1: [], unified: '/sys/fs/cgroup/../x' }]) {
      rewrite((r) => (r.cgroupLayout = layout));
      expect(await rc('pause', id)).toMatchObject({ code: 0 });
      expect(JSON.parse((await rc('state', id)).stdout).status).toBe('paused');
      expect(await rc('resume', id)).toMatchObject({ code: 0 });
    }
    rewrite((r) => (r.cgroupLayout = recordLayout(detectLayout())));
    expect(await rc('exec', id, 'true')).toMatchObject({ code: 0 });
    expect(JSON.parse((await rc('ps', '--format', 'json', id)).stdout)).toHaveLength(2); // init, sleep
    expect(await rc('kill', '--all', id, 'KILL')).toMatchObject({ code: 0 });
    expect(JSON.parse((await rc('wait', id)).stdout).exitStatus).toBe(137);
  });

  it('reports a limit the kernel refuses, with the file, and leaves nothing', async () => {
    const bundle = bundleWith('true', { cpu: { cpus: '999' } });
    const result = await rc('create', '-b', bundle, id);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cpuset\.cpus/);
    expect(fs.readdirSync(root)).toEqual([]);
    for (const d of new Cgroup(detectLayout(), `/runcell/${id}`).directories()) expect(fs.existsSync(d)).toBe(false);
  });
});

describe.skipIf(skip !== null)(`cgroups shared by ids${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('kill --all and delete --force signal a cgroup that would not freeze in time, and thaw it (runc warns and goes on too)', async () => {
    // The kernel's stuck FREEZING (v1: a task in uninterruptible sleep, or one CRIU restores)
    // cannot be made at will: this cgroup really freezes, then reports the timeout, which leaves
    // it in the worst state, frozen (a frozen v1 task does not die of SIGKILL until thawed).
    class FreezeTimesOut extends Cgroup {
      override async setFrozen(frozen: boolean): Promise<void> {
        await super.setFrozen(frozen);
        if (frozen) throw new ContainerError('ERR_INVALID_STATE', `cgroup ${this.cgroupPath} did not become frozen in time`);
      }
    }
    expect(await rc('run', '-d', '-b', bundleWith('sleep 1000 & sleep 1000 & wait'), id)).toMatchObject({ code: 0 });
    const cgroup = new FreezeTimesOut(detectLayout(), `/runcell/${id}`);
    expect(cgroup.pids()).toHaveLength(4);
    await cgroup.signalAll('SIGKILL');
    expect(cgroup.isFrozen()).toBe(false);
    await waitFor(() => cgroup.pids().length === 0, 'every process of the cgroup to die');
    expect(await rc('delete', '--force', id)).toMatchObject({ code: 0, stderr: '' });
  });

  it('removes a cgroup whose last process is still in it when the removal begins, once it has left', async () => {
    // delete --force SIGKILLs and then removes: a process may not have left the cgroup yet. The
    // rmdir refused (EBUSY) is retried when the cgroup2 directory says it is empty (or after a
    // short wait on v1), until the process is gone.
    const cgroup = new Cgroup(detectLayout(), `/runcell/${id}`);
    cgroup.create();
    const sleeper = spawn('sleep', ['1000'], { stdio: 'ignore' });
    try {
      for (const file of cgroup.procsFiles()) fs.writeFileSync(file, String(sleeper.pid));
      expect(cgroup.pids()).toEqual([sleeper.pid]);
      const removal = cgroup.remove(); // its first rmdir is refused before this returns: the sleeper is in it
      expect(cgroup.directories().some((d) => fs.existsSync(d))).toBe(true);
      sleeper.kill('SIGKILL');
      await removal;
      expect(cgroup.directories().filter((d) => fs.existsSync(d))).toEqual([]);
    } finally {
      sleeper.kill('SIGKILL');
      await cgroup.remove();
    }
  });

  it('refuses to create a container whose cgroup already has processes (same id under another root)', async () => {
    const bundle = bundleWith('sleep 1000');
    expect(await rc('run', '-d', '-b', bundle, id)).toMatchObject({ code: 0 });
    const otherRoot = path.join(dir, 'other-root');
    const second = await runcell(['--root', otherRoot, 'create', '-b', bundle, id]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`cgroup /runcell/${id} is in use by other processes`);
    expect(JSON.parse((await rc('state', id)).stdout).status).toBe('running');
  });
});

describe.skipIf(skip !== null)(`runcell update${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('changes a limit live, from a file (podman) or from stdin (containerd), and names a bad file', async () => {
    const bundle = bundleWith('sleep 1000', { pids: { limit: 50 } });
    await rc('run', '-d', '-b', bundle, id);
    const cgroup = new Cgroup(detectLayout(), `/runcell/${id}`);
    const pidsMax = () => fs.readFileSync(path.join(cgroup.isV2 ? detectLayout().unified! : detectLayout().v1.get('pids')!, `/runcell/${id}`, 'pids.max'), 'utf8').trim();
    const file = path.join(dir, 'resources.json');
    fs.writeFileSync(file, JSON.stringify({ pids: { limit: 20 } }));
    expect(await rc('update', `--resources=${file}`, id)).toMatchObject({ code: 0 });
    expect(pidsMax()).toBe('20');
    const fromStdin = await runcell(['--root', root, 'update', '--resources', '-', id], { input: JSON.stringify({ pids: { limit: 30 } }) });
    expect(fromStdin).toMatchObject({ code: 0, stderr: '' });
    expect(pidsMax()).toBe('30');
    const notJson = await runcell(['--root', root, 'update', '-r', '-', id], { input: '[1]' });
    expect(notJson.stderr).toBe('runcell: --resources -: not a JSON object of LinuxResources\n');
    expect(pidsMax()).toBe('30');
    const bad = await rc('update', '-r', path.join(dir, 'nope.json'), id);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('no such file or directory');
    expect(pidsMax()).toBe('30');
  });
});

describe.skipIf(skip !== null)(`runcell events${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('--stats prints one stats event with cpu, memory, pids and blkio; the stream ends with the container', async () => {
    const bundle = bundleWith('sleep 1000 & sleep 1000 & wait', { memory: { limit: 32 * 1024 * 1024 } });
    await rc('run', '-d', '-b', bundle, id);
    const once = await rc('events', '--stats', id);
    expect(once.code).toBe(0);
    const event = JSON.parse(once.stdout);
    expect(event).toMatchObject({ type: 'stats', id });
    expect(event.data.cpu.usage.total).toBeGreaterThan(0);
    expect(event.data.memory.usage.limit).toBe(32 * 1024 * 1024);
    expect(event.data.memory.usage.usage).toBeGreaterThan(0);
    expect(event.data.pids.current).toBe(4);
    expect(event.data.blkio).toBeTypeOf('object'); // runc's omitempty: {} without any IO
    // The stream: three events at 100 ms, then it ends with the container.
    const stream = spawn(CLI, ['--root', root, 'events', '--interval', '100ms', id], { env: childEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => stream.once('exit', (code) => resolve(code)));
    const next = lineReader(stream.stdout);
    for (let i = 0; i < 3; i++) expect(JSON.parse((await next())!)).toMatchObject({ type: 'stats', id });
    await rc('kill', id, 'KILL');
    for (let line = await next(); line !== undefined; line = await next()) expect(JSON.parse(line).type).toBe('stats');
    expect(await exited).toBe(0);
    expect((await rc('events', '--stats', id)).stderr).toContain('container not running');
  });
});

// A disk this host's root can open (so that a refusal in the container is the rules' doing):
// the first of /proc/partitions, else a loop device (this development machine refuses
// everyone its virtio disk).
function hostDisk(): { major: number; minor: number; name: string } | null {
  const partitions = fs.readFileSync('/proc/partitions', 'utf8').split('\n').slice(2).map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 4);
  const candidates = [...partitions.map(([major, minor, , name]) => ({ major: Number(major), minor: Number(minor), name })),
    ...Array.from({ length: 8 }, (_, i) => ({ major: 7, minor: i, name: `loop${i}` }))];
  return candidates.find((d) => {
    try {
      const stat = fs.statSync(`/dev/${d.name}`);
      if (!stat.isBlockDevice() || stat.rdev !== d.major * 256 + d.minor) return false;
      fs.closeSync(fs.openSync(`/dev/${d.name}`, 'r'));
      return true;
    } catch {
      return false;
    }
  }) ?? null;
}
const disk = hostDisk();
const pureV2 = isPureV2(detectLayout());
const noDisk = skip ?? (disk === null ? 'needs a block device that root can open (/proc/partitions, /dev/loop*)' : null);
const NOT_V2 = 'needs a pure cgroup v2 host (npm run test:vm runs it in the VM)';

/** A bundle whose process may mknod (CAP_MKNOD) and has mknod and dd. */
function deviceBundle(script: string, resources: object) {
  const bundle = bundleWith(script, resources);
  for (const applet of ['mknod', 'dd']) {
    const link = path.join(bundle, 'rootfs', 'bin', applet);
    if (!fs.existsSync(link)) fs.symlinkSync('busybox', link);
  }
  const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  for (const set of ['bounding', 'effective', 'permitted']) config.process.capabilities[set].push('CAP_MKNOD');
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
  return bundle;
}

// What the container's process reports about the disk and /dev/null.
const PROBE = (d: { major: number; minor: number }) => [
  `mknod /tmp/disk b ${d.major} ${d.minor} && echo mknod: ok || echo mknod: failed`,
  'head -c 1 /tmp/disk > /dev/null 2> /tmp/err && echo open: ok || echo "open: $(cat /tmp/err)"',
  'echo x > /dev/null && echo null: ok',
  'head -c 1 /dev/zero | wc -c',
].join('; ');

describe.skipIf(noDisk !== null)(`device rules${noDisk ? ` (skipped: ${noDisk})` : ''}`, () => {
  it(`deny all: the disk's node can be made but not opened (EPERM), /dev/null still works (${pureV2 ? 'eBPF' : 'v1 devices controller'}); as runc does`, async () => {
    const bundle = deviceBundle(PROBE(disk!), { devices: [{ allow: false, access: 'rwm' }] });
    const ours = await rc('run', '-b', bundle, id);
    expect(ours).toMatchObject({ code: 0, stderr: '' });
    expect(ours.stdout).toBe('mknod: ok\nopen: head: /tmp/disk: Operation not permitted\nnull: ok\n1\n');
    if (commandExists('runc')) {
      const theirs = await run('runc', ['--root', path.join(dir, 'runc-root'), 'run', '-b', bundle, `${id}-runc`]);
      expect(theirs.stdout).toBe(ours.stdout);
    }
    // The refusal is the rules': allowing the disk lets the same process open it.
    const allowed = deviceBundle(PROBE(disk!), { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'b', major: disk!.major, minor: disk!.minor, access: 'r' }] });
    expect((await rc('run', '-b', allowed, id)).stdout).toBe('mknod: ok\nopen: ok\nnull: ok\n1\n');
  });

  it('with no device rules in the spec, a device no default allows is denied too', async () => {
    const bundle = deviceBundle(PROBE(disk!), {});
    const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    delete config.linux.resources.devices;
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
    const ours = await rc('run', '-b', bundle, id);
    expect(ours.stdout).toBe('mknod: ok\nopen: head: /tmp/disk: Operation not permitted\nnull: ok\n1\n');
  });

  it('update replaces the device rules (the defaults stay), and the new ones hold at once', async () => {
    const control = path.join(dir, 'control');
    fs.mkdirSync(control);
    // The process probes the disk each time the test asks (a file "go-N"), answering in "out-N".
    const bundle = deviceBundle(`mknod /tmp/disk b ${disk!.major} ${disk!.minor}; i=0; while true; do ` +
      'if [ -e /control/go-$i ]; then (head -c 1 /tmp/disk > /dev/null 2>&1 && echo disk-ok || echo disk-denied; echo x > /dev/null && echo null-ok) > /control/out-$i.tmp; mv /control/out-$i.tmp /control/out-$i; i=$((i+1)); fi; sleep 0.02; done',
    { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'b', major: disk!.major, minor: disk!.minor, access: 'r' }] });
    const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    config.mounts.push({ destination: '/control', type: 'bind', source: control, options: ['rbind', 'rw'] });
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
    expect(await rc('run', '-d', '-b', bundle, id)).toMatchObject({ code: 0 });
    let round = 0;
    const probe = async () => {
      fs.writeFileSync(path.join(control, `go-${round}`), '');
      const out = path.join(control, `out-${round++}`);
      await waitFor(() => fs.existsSync(out), 'the container to probe its devices');
      return fs.readFileSync(out, 'utf8');
    };
    const cgroup = new Cgroup(detectLayout(), `/runcell/${id}`);
    const programs = () => (pureV2 ? cgroup.deviceFilterIds() : []);
    const before = programs();
    expect(await probe()).toBe('disk-ok\nnull-ok\n');
    const update = (devices: object[]) => runcell(['--root', root, 'update', '-r', '-', id], { input: JSON.stringify({ devices }) });
    expect(await update([{ allow: false, access: 'rwm' }])).toMatchObject({ code: 0, stderr: '' });
    expect(await probe()).toBe('disk-denied\nnull-ok\n');
    expect(await update([{ allow: true, type: 'b', major: disk!.major, minor: disk!.minor, access: 'r' }])).toMatchObject({ code: 0 });
    expect(await probe()).toBe('disk-ok\nnull-ok\n');
    if (pureV2) {
      // One program at a time, a new one each update.
      expect(before).toHaveLength(1);
      expect(programs()).toHaveLength(1);
      expect(programs()[0]).not.toBe(before[0]);
    }
    const bad = await update([{ allow: true, type: 'x' }]);
    expect(bad).toMatchObject({ code: 1, stderr: 'runcell: linux.resources.devices[0].type: "x" is not a, b or c\n' });
    expect(await probe()).toBe('disk-ok\nnull-ok\n');
  });
});

/** A file of the container's cgroup: on pure v2 (or for a controller v1 lacks) the cgroup2 one. */
function cgroupFile(containerId: string, controller: string, file: string): string {
  const layout = detectLayout();
  const mount = isPureV2(layout) || !layout.v1.has(controller) ? layout.unified! : layout.v1.get(controller)!;
  return fs.readFileSync(path.join(mount, 'runcell', containerId, file), 'utf8').trim();
}

const noV1Devices = skip ?? (pureV2 || !detectLayout().v1.has('devices') ? 'needs a cgroup v1 devices hierarchy' : null);
describe.skipIf(noV1Devices !== null)(`v1 device rules${noV1Devices ? ` (skipped: ${noV1Devices})` : ''}`, () => {
  it('every rule holds though the rules of one file go through one descriptor, and a refused one is named with its file', () => {
    const mount = detectLayout().v1.get('devices')!;
    const top = `/runcell-test-devices-${id}`;
    const cgroup = new Cgroup(detectLayout(), top);
    const child = new Cgroup(detectLayout(), `${top}/c`);
    try {
      cgroup.create(containerResources({ ociVersion: '1.0.2' }, { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'b', major: 7, minor: 0, access: 'r' }] }));
      const listed = fs.readFileSync(path.join(mount, top, 'devices.list'), 'utf8').trim().split('\n');
      // The kernel lists each exception it took: the spec's, then the eleven defaults.
      expect(listed.sort()).toEqual(['b 7:0 r', 'c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:8 rwm', 'c 1:7 rwm', 'c 5:0 rwm', 'c 1:5 rwm',
        'c 1:9 rwm', 'c 136:* rwm', 'c 5:2 rwm', 'c 10:200 rwm'].sort());
      // Below it, a rule its parent does not grant is refused by the kernel (EPERM) on the
      // second write to devices.allow: the error names the file and the write.
      child.create({});
      expect(() => child.apply({ devices: [{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: true, type: 'b', major: 8, minor: 0, access: 'r' }] }))
        .toThrow(expect.objectContaining({ code: 'EPERM', syscall: 'write', path: path.join(mount, top, 'c', 'devices.allow') }));
      expect(fs.readFileSync(path.join(mount, top, 'c', 'devices.list'), 'utf8').trim()).toBe('c 1:3 rwm');
    } finally {
      for (const dir of [...child.directories(), ...cgroup.directories()]) {
        try {
          fs.rmdirSync(dir);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    }
  });
});

const notV1 = noDisk ?? (pureV2 ? 'needs a cgroup v1 or hybrid host' : null);
const noCpuset = skip ?? (pureV2 || !detectLayout().v1.has('cpuset') ? 'needs a cgroup v1 cpuset hierarchy' : null);
describe.skipIf(noCpuset !== null)(`v1 cpusets${noCpuset ? ` (skipped: ${noCpuset})` : ''}`, () => {
  it('new levels get their parent\'s cpus and mems; a parent someone left empty is filled first', () => {
    const mount = detectLayout().v1.get('cpuset')!;
    const top = `/runcell-test-cpuset-${id}`;
    const read = (p: string, file: string) => fs.readFileSync(path.join(mount, p, file), 'utf8').trim();
    const rootValues = ['cpuset.cpus', 'cpuset.mems'].map((file) => read('/', file));
    const deep = new Cgroup(detectLayout(), `${top}/a/b`);
    const beside = new Cgroup(detectLayout(), `${top}/a/c`);
    try {
      deep.create({}); // three new levels
      for (const p of [top, `${top}/a`, `${top}/a/b`]) expect(['cpuset.cpus', 'cpuset.mems'].map((file) => read(p, file))).toEqual(rootValues);
      // A level that exists with no cpus nor mems (made by hand, as runc's parent may find one).
      fs.mkdirSync(path.join(mount, top, 'a', 'c'));
      fs.mkdirSync(path.join(mount, top, 'empty'));
      const below = new Cgroup(detectLayout(), `${top}/empty/d`);
      below.create({});
      for (const p of [`${top}/empty`, `${top}/empty/d`]) expect(['cpuset.cpus', 'cpuset.mems'].map((file) => read(p, file))).toEqual(rootValues);
      beside.create({}); // its own level existed already, empty
      expect(['cpuset.cpus', 'cpuset.mems'].map((file) => read(`${top}/a/c`, file))).toEqual(rootValues);
    } finally {
      for (const p of [`${top}/empty/d`, `${top}/empty`, `${top}/a/c`, `${top}/a/b`, `${top}/a`, top]) {
        for (const dir of new Cgroup(detectLayout(), p).directories()) {
          try {
            fs.rmdirSync(dir);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          }
        }
      }
    }
  });
});

describe.skipIf(notV1 !== null)(`every resource, cgroup v1 files${notV1 ? ` (skipped: ${notV1})` : ''}`, () => {
  it('writes memory, cpu, cpuset, blkio, pids and hugetlb (in cgroup v2 where v1 lacks it), and update changes them', async () => {
    const mib = 1024 * 1024;
    const layout = detectLayout();
    const hugetlb = layout.v1.has('hugetlb') || fs.readFileSync(path.join(layout.unified ?? '/nonexistent', 'cgroup.controllers'), 'utf8').includes('hugetlb');
    const bundle = bundleWith('sleep 1000', {
      memory: { limit: 64 * mib, reservation: 32 * mib, swap: 64 * mib, swappiness: 10 },
      cpu: { shares: 512, quota: 20000, period: 50000, cpus: '0', mems: '0', ...(fs.existsSync(path.join(layout.v1.get('cpu')!, 'cpu.idle')) ? { idle: 0 } : {}) },
      blockIO: { throttleReadBpsDevice: [{ major: disk!.major, minor: disk!.minor, rate: 10 * mib }], throttleWriteIOPSDevice: [{ major: disk!.major, minor: disk!.minor, rate: 100 }] },
      pids: { limit: 30 },
      ...(hugetlb ? { hugepageLimits: [{ pageSize: '2MB', limit: 0 }] } : {}),
    });
    expect(await rc('run', '-d', '-b', bundle, id)).toMatchObject({ code: 0, stderr: '' });
    const file = (controller: string, name: string) => cgroupFile(id, controller, name);
    expect(file('memory', 'memory.limit_in_bytes')).toBe(String(64 * mib));
    expect(file('memory', 'memory.soft_limit_in_bytes')).toBe(String(32 * mib));
    expect(file('memory', 'memory.memsw.limit_in_bytes')).toBe(String(64 * mib));
    expect(file('memory', 'memory.swappiness')).toBe('10');
    expect([file('cpu', 'cpu.shares'), file('cpu', 'cpu.cfs_quota_us'), file('cpu', 'cpu.cfs_period_us')]).toEqual(['512', '20000', '50000']);
    expect([file('cpuset', 'cpuset.cpus'), file('cpuset', 'cpuset.mems')]).toEqual(['0', '0']);
    expect(file('blkio', 'blkio.throttle.read_bps_device')).toBe(`${disk!.major}:${disk!.minor} ${10 * mib}`);
    expect(file('blkio', 'blkio.throttle.write_iops_device')).toBe(`${disk!.major}:${disk!.minor} 100`);
    expect(file('pids', 'pids.max')).toBe('30');
    if (hugetlb) expect(file('hugetlb', layout.v1.has('hugetlb') ? 'hugetlb.2MB.limit_in_bytes' : 'hugetlb.2MB.max')).toBe('0');
    // update: a higher memory limit than the current memory+swap limit goes in (memsw first).
    const update = await runcell(['--root', root, 'update', '-r', '-', id], { input: JSON.stringify({ memory: { limit: 128 * mib, swap: 128 * mib }, cpu: { quota: 30000 }, pids: { limit: -1 } }) });
    expect(update).toMatchObject({ code: 0, stderr: '' });
    expect([file('memory', 'memory.limit_in_bytes'), file('memory', 'memory.memsw.limit_in_bytes')]).toEqual([String(128 * mib), String(128 * mib)]);
    expect([file('cpu', 'cpu.cfs_quota_us'), file('cpu', 'cpu.cfs_period_us')]).toEqual(['30000', '50000']);
    expect(file('pids', 'pids.max')).toBe('max');
    // An unlimited memory without a swap limit is both unlimited (runc), with device rules
    // beside it too (they once replaced what update writes, and the kernel refused the memory
    // limit above the memory+swap one).
    const unlimited = await runcell(['--root', root, 'update', '-r', '-', id], { input: JSON.stringify({ memory: { limit: -1 }, devices: [{ allow: false, access: 'rwm' }] }) });
    expect(unlimited).toMatchObject({ code: 0, stderr: '' });
    const noLimit = fs.readFileSync(path.join(layout.v1.get('memory')!, 'memory.limit_in_bytes'), 'utf8').trim(); // the root's
    expect([file('memory', 'memory.limit_in_bytes'), file('memory', 'memory.memsw.limit_in_bytes')]).toEqual([noLimit, noLimit]);
    // unified needs cgroup v2's own controllers; a key of one v2 does not offer is named.
    const unified = await runcell(['--root', root, 'update', '-r', '-', id], { input: JSON.stringify({ unified: { 'memory.high': '1000000' } }) });
    expect(unified.code).toBe(1);
    expect(unified.stderr).toMatch(/^runcell: linux\.resources\.unified(\["memory\.high"\]: the memory controller is not available|: needs cgroup v2)/);
  });
});

const notV2 = noDisk ?? (pureV2 ? null : NOT_V2);
describe.skipIf(notV2 !== null)(`every resource, cgroup v2 files${notV2 ? ` (skipped: ${notV2})` : ''}`, () => {
  it('writes memory, cpu, cpuset, io, pids, hugetlb and unified to the v2 files, and update changes them', async () => {
    const mib = 1024 * 1024;
    const controllers = fs.readFileSync(path.join(detectLayout().unified!, 'cgroup.controllers'), 'utf8');
    const bundle = bundleWith('sleep 1000', {
      memory: { limit: 64 * mib, reservation: 32 * mib, swap: 96 * mib },
      cpu: { shares: 1024, quota: 20000, period: 50000, burst: 1000, idle: 0, cpus: '0', mems: '0' },
      blockIO: { throttleReadBpsDevice: [{ major: disk!.major, minor: disk!.minor, rate: 10 * mib }], throttleWriteIOPSDevice: [{ major: disk!.major, minor: disk!.minor, rate: 100 }] },
      pids: { limit: 30 },
      ...(controllers.includes('hugetlb') ? { hugepageLimits: [{ pageSize: '2MB', limit: 0 }] } : {}),
      unified: { 'memory.high': String(60 * mib), 'memory.oom.group': '1' },
    });
    expect(await rc('run', '-d', '-b', bundle, id)).toMatchObject({ code: 0, stderr: '' });
    const file = (name: string) => cgroupFile(id, name.split('.')[0], name);
    expect([file('memory.max'), file('memory.low'), file('memory.swap.max'), file('memory.high'), file('memory.oom.group')])
      .toEqual([String(64 * mib), String(32 * mib), String(32 * mib), String(60 * mib), '1']);
    expect([file('cpu.weight'), file('cpu.max'), file('cpu.max.burst'), file('cpu.idle')]).toEqual(['39', '20000 50000', '1000', '0']);
    expect([file('cpuset.cpus'), file('cpuset.mems')]).toEqual(['0', '0']);
    expect(file('io.max')).toBe(`${disk!.major}:${disk!.minor} rbps=${10 * mib} wbps=max riops=max wiops=100`);
    expect(file('pids.max')).toBe('30');
    if (controllers.includes('hugetlb')) expect(file('hugetlb.2MB.max')).toBe('0');
    const update = await runcell(['--root', root, 'update', '-r', '-', id], { input: JSON.stringify({ memory: { limit: 128 * mib, swap: 128 * mib }, cpu: { quota: 30000 }, pids: { limit: 0 } }) });
    expect(update).toMatchObject({ code: 0, stderr: '' });
    expect([file('memory.max'), file('memory.swap.max'), file('cpu.max'), file('pids.max')]).toEqual([String(128 * mib), '0', '30000 50000', 'max']);
    // Fields v2 has no file for are refused by name, and change nothing.
    const swappiness = await runcell(['--root', root, 'update', '-r', '-', id], { input: JSON.stringify({ memory: { swappiness: 10 } }) });
    expect(swappiness.stderr).toBe('runcell: linux.resources.memory.swappiness: not supported on cgroup v2 (the kernel has no per-cgroup swappiness there)\n');
    const realtime = await rc('create', '-b', bundleWith('true', { cpu: { realtimeRuntime: 1000 } }), `${id}-rt`);
    expect(realtime.stderr).toContain('linux.resources.cpu.realtimeRuntime: not supported on cgroup v2');
  });
});

describe.skipIf(skip !== null)(`runcell events, as runc${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('--stats has every field runc prints for the same container', async () => {
    if (!commandExists('runc')) return;
    const bundle = bundleWith('sleep 1000', { memory: { limit: 32 * 1024 * 1024 }, pids: { limit: 40 } });
    await rc('run', '-d', '-b', bundle, id);
    const runcRoot = path.join(dir, 'runc-root');
    const runc = (...args: string[]) => run('runc', ['--root', runcRoot, ...args]);
    expect(await runc('run', '-d', '-b', bundle, `${id}-runc`)).toMatchObject({ code: 0 });
    try {
      const ours = JSON.parse((await rc('events', '--stats', id)).stdout);
      const theirs = JSON.parse((await runc('events', '--stats', `${id}-runc`)).stdout);
      // Every path of runc's event exists in ours (values differ: two containers), with the same type.
      const paths = (value: unknown, prefix = ''): string[] => (typeof value === 'object' && value !== null && !Array.isArray(value)
        ? Object.entries(value).flatMap(([k, v]) => [`${prefix}${k}:${Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v}`, ...(k === 'raw' ? [] : paths(v, `${prefix}${k}.`))])
        : []);
      const ourPaths = new Set(paths(ours));
      // Usage counters that are 0 in one and not in the other are left out by omitempty.
      const zeroable = /^data\.(memory\.(cache|\w+\.(usage|max))|cpu\.usage\.(total|percpu\w*)|cpu\.throttling\.\w+|pids\.current|blkio\.\w+Recursive):/;
      expect(paths(theirs).filter((p) => !ourPaths.has(p) && !zeroable.test(p))).toEqual([]);
      expect(ours.data.memory.usage.limit).toBe(theirs.data.memory.usage.limit);
      expect(ours.data.pids.limit).toBe(theirs.data.pids.limit);
      expect(ours.data.memory.swap.limit).toBe(theirs.data.memory.swap.limit); // exact, though above 2^53
    } finally {
      await runc('delete', '--force', `${id}-runc`);
    }
  });

  it('reports an OOM kill in the stream as {"type":"oom","id":...}, and the container runs on', async () => {
    const control = path.join(dir, 'control');
    fs.mkdirSync(control);
    // Memory and memory+swap both 32 MiB (no swap); dd's 64 MiB buffer is OOM-killed.
    const bundle = deviceBundle('while [ ! -e /control/go ]; do sleep 0.02; done; dd if=/dev/zero of=/dev/null bs=64M count=1; echo $? > /control/dd; sleep 1000',
      { memory: { limit: 32 * 1024 * 1024, swap: 32 * 1024 * 1024 } });
    const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    config.mounts.push({ destination: '/control', type: 'bind', source: control, options: ['rbind', 'rw'] });
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
    expect(await rc('run', '-d', '-b', bundle, id)).toMatchObject({ code: 0 });
    const stream = spawn(CLI, ['--root', root, 'events', '--interval', '10s', id], { env: childEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => stream.once('exit', (code) => resolve(code)));
    const next = lineReader(stream.stdout);
    expect(JSON.parse((await next())!)).toMatchObject({ type: 'stats', id }); // the watch is set up
    fs.writeFileSync(path.join(control, 'go'), '');
    expect(JSON.parse((await next())!)).toEqual({ type: 'oom', id });
    // The shell creates the file, then writes the status into it: wait for the whole line.
    const status = () => (fs.existsSync(path.join(control, 'dd')) ? fs.readFileSync(path.join(control, 'dd'), 'utf8') : '');
    await waitFor(() => status().endsWith('\n'), 'dd to be killed');
    expect(status().trim()).toBe('137');
    expect(JSON.parse((await rc('state', id)).stdout).status).toBe('running');
    await rc('kill', id, 'KILL');
    expect(await next()).toBeUndefined(); // the stream ends with the container
    expect(await exited).toBe(0);
  });
});

// The controller the test delegates: hugetlb, which cgroup v2 offers here (hybrid) and in the VM.
const noHugetlb = skip ?? (detectLayout().unified === null
  || !fs.readFileSync(path.join(detectLayout().unified!, 'cgroup.controllers'), 'utf8').includes('hugetlb') ? 'needs hugetlb in cgroup v2' : null);
describe.skipIf(noHugetlb !== null)(`cgroup v2 controllers${noHugetlb ? ` (skipped: ${noHugetlb})` : ''}`, () => {
  it('are enabled from the root down; a parent that refuses (it has processes of its own) is named with its errno', async () => {
    expect.assertions(2);
    const layout = detectLayout();
    // A parent cgroup2 directory with a process in it: "no internal processes" forbids it to
    // delegate a controller to a child.
    const parentPath = `/runcell-test-${id}`;
    const parent = path.join(layout.unified!, parentPath);
    fs.mkdirSync(parent);
    const sleeper = spawn('sleep', ['1000'], { stdio: 'ignore' });
    const cgroup = new Cgroup(layout, `${parentPath}/c`);
    try {
      fs.writeFileSync(path.join(parent, 'cgroup.procs'), String(sleeper.pid));
      let caught: unknown;
      try {
        cgroup.create({ hugepageLimits: [{ pageSize: '2MB', limit: 0 }] });
      } catch (error) {
        caught = error;
      }
      expect(caught).toMatchObject({ syscall: 'write', path: path.join(parent, 'cgroup.subtree_control') });
      // EBUSY: no controller for a cgroup with processes. On pure v2, create's best-effort pass
      // has enabled the threaded controllers (cpu, pids), which the kernel allows there, making
      // the parent a thread root: a domain controller is then EOPNOTSUPP.
      expect(['EBUSY', 'ENOTSUP']).toContain((caught as { code: string }).code);
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((resolve) => sleeper.once('exit', resolve));
      await cgroup.remove();
      await new Cgroup(layout, parentPath).remove();
    }
  });
});
