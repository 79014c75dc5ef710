// Cgroups on this host (v1 controllers, or hybrid, or v2), pause/resume, ps, kill --all.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cgroup, detectLayout } from '../../src/container/cgroups';
import { lineReader } from '../../src/lines';
import { CLI, childEnv, runcell, sleep, useScratch, waitFor } from '../helpers/env';
import { makeBundle, whyNoContainers } from '../helpers/bundle';

const skip = whyNoContainers();
let dir: string;
let root: string;
let id: string;
useScratch((d, r) => {
  dir = d;
  root = r;
  id = `cg-${process.pid}-${Math.floor(Math.random() * 1e6)}`; // cgroups are host-wide: ids must not clash
});

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
    expect(table[0]).toMatch(/^UID\s+PID\s+PPID\s+STAT\s+CMD$/);
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
    expect(Array.isArray(event.data.blkio.ioServiceBytesRecursive)).toBe(true);
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
