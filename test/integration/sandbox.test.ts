// Sandboxes (pods): a root container and subcontainers named by the CRI annotations, sharing the
// root init's pid, ipc, uts and network namespaces; the OOM-score policy; removal. As root.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isProcessAlive, StateFile, type ContainerRecord } from '../../src';
import { Cgroup, detectLayout } from '../../src/container/cgroups';
import { hasCapSysResource, runcell, useScratch } from '../helpers/env';
import { makeBundle, whyNoContainers, type SpecEdit } from '../helpers/bundle';

const skip = whyNoContainers();
// Cgroups are host-wide (/runcell/<id>): ids unique to this test process.
const POD = `pod${process.pid}`;
const sub = (name: string) => `${name}${process.pid}`;
const BASE = Number(fs.readFileSync('/proc/self/oom_score_adj', 'utf8'));
const above = (n: number) => Math.min(BASE + n, 1000);

let dir: string;
let root: string;
useScratch((d, r) => {
  dir = d;
  root = r;
});

const rc = (...args: string[]) => runcell(['--root', root, ...args]);
const record = (id: string, sandboxId = POD) =>
  new StateFile<ContainerRecord>(root, { containerId: id, sandboxId }).load();
const score = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8'));
const ns = (pid: number, type: string) => fs.readlinkSync(`/proc/${pid}/ns/${type}`);

// containerd's annotations for the pause container, and for a member (CRI-O's with `crio`).
const asSandbox: SpecEdit = (spec) => {
  spec.annotations = { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': POD };
};
const member = (edit: SpecEdit = () => {}, crio = false): SpecEdit => (spec) => {
  spec.annotations = crio
    ? { 'io.kubernetes.cri-o.ContainerType': 'container', 'io.kubernetes.cri-o.SandboxID': POD }
    : { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': POD };
  // A member shares the pod's hostname: its spec lists no uts namespace and sets none.
  delete spec.hostname;
  spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => n.type === 'mount' || n.type === 'pid');
  edit(spec);
};

async function startPod(edit: SpecEdit = () => {}): Promise<ContainerRecord> {
  const bundle = makeBundle(path.join(dir, 'pod'), ['sleep', '1000'], (spec) => {
    asSandbox(spec);
    spec.hostname = 'pod-host';
    edit(spec);
  });
  expect(await rc('run', '-d', '-b', bundle, POD)).toMatchObject({ code: 0, stderr: '' });
  return record(POD);
}

async function startMember(name: string, args: string[], edit: SpecEdit): Promise<ContainerRecord> {
  const bundle = makeBundle(path.join(dir, name), args, edit);
  expect(await rc('run', '-d', '-b', bundle, sub(name))).toMatchObject({ code: 0, stderr: '' });
  return record(sub(name));
}

describe.skipIf(skip !== null)(`sandboxes${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('a pod of a root and three members: shared pid, ipc, uts and network namespaces, separate filesystems', async () => {
    const pod = await startPod();
    // a: a nested pid namespace of its own; b: the root process's, by path; c: the sandbox's.
    const a = await startMember('a', ['sleep', '1000'], member());
    const b = await startMember('b', ['sleep', '1000'], member((spec) => {
      spec.linux.namespaces = [{ type: 'mount' }, { type: 'pid', path: `/proc/${pod.user!.pid}/ns/pid` }];
    }, true));
    const c = await startMember('c', ['sleep', '1000'], member((spec) => {
      spec.linux.namespaces = [{ type: 'mount' }];
    }));
    for (const m of [a, b, c]) {
      expect(m.sandboxId).toBe(POD);
      expect(fs.existsSync(path.join(root, `${m.id}_sandbox:${POD}.state`))).toBe(true);
      // The inits all live in the sandbox's pid namespace, so the sandbox's end is theirs.
      expect(ns(m.init!.pid, 'pid')).toBe(ns(pod.init!.pid, 'pid'));
      for (const type of ['ipc', 'uts', 'net']) expect(ns(m.user!.pid, type)).toBe(ns(pod.init!.pid, type));
      expect(ns(m.user!.pid, 'mnt')).not.toBe(ns(pod.user!.pid, 'mnt'));
      expect((await rc('exec', m.id, 'hostname')).stdout).toBe('pod-host\n');
    }
    expect(ns(a.user!.pid, 'pid')).not.toBe(ns(pod.init!.pid, 'pid'));
    expect(ns(b.user!.pid, 'pid')).toBe(ns(pod.user!.pid, 'pid'));
    // b sees the root's process as its pid 1; c sees the whole pod, the root's init as pid 1.
    expect(fs.readFileSync(`/proc/${b.user!.pid}/root/proc/1/cmdline`, 'utf8')).toBe('sleep\x001000\x00');
    const inC = (await rc('exec', c.id, 'sh', '-c', 'for p in /proc/[0-9]*; do cat $p/cmdline; echo; done')).stdout.split('\n');
    expect(inC.filter((line) => line === 'sleep\x001000\x00')).toHaveLength(4); // every container's process
    expect(inC.filter((line) => line.includes('runcell-init'))).toHaveLength(4); // and every init
    const listed = (await rc('list', '-q')).stdout.split('\n').filter((l) => l !== '');
    expect(listed.sort()).toEqual([POD, a.id, b.id, c.id].sort());
    expect(StateFile.listSandbox(root, POD)).toHaveLength(4);
  });

  it('deleting a member leaves the others running; deleting the root takes the sandbox down, leaving nothing', async () => {
    const pod = await startPod();
    const a = await startMember('a', ['sleep', '1000'], member());
    const b = await startMember('b', ['sh', '-c', 'sleep 1000 & sleep 1000'], member());
    expect(await rc('delete', '--force', a.id)).toMatchObject({ code: 0, stderr: '' });
    expect(isProcessAlive(b.user!.pid, b.user!.startTime)).toBe(true);
    expect(isProcessAlive(pod.init!.pid, pod.init!.startTime)).toBe(true);
    expect(await rc('delete', POD)).toMatchObject({ code: 1, stderr: `runcell: cannot delete container "${POD}" in state running\n` });
    const cgroupPids = new Cgroup(detectLayout(), b.cgroupPath!).pids();
    expect(cgroupPids.length).toBe(3); // b's init, sh and the background sleep
    expect(await rc('delete', '--force', POD)).toMatchObject({ code: 0, stderr: '' });
    expect(fs.readdirSync(root)).toEqual([]);
    for (const proc of [pod.init, pod.user, pod.gofer, b.init, b.user, b.gofer]) expect(isProcessAlive(proc!.pid, proc!.startTime)).toBe(false);
    expect(new Cgroup(detectLayout(), b.cgroupPath!).pids()).toEqual([]);
    expect(fs.existsSync(path.join(detectLayout().v1.get('pids') ?? detectLayout().unified!, b.cgroupPath!))).toBe(false);
  });

  it('when the root\'s init dies the kernel ends the members: they are stopped, and deleting the root removes them', async () => {
    const pod = await startPod();
    const a = await startMember('a', ['sleep', '1000'], member());
    process.kill(pod.init!.pid, 'SIGKILL');
    expect(JSON.parse((await rc('wait', a.id)).stdout).exitStatus).toBe(137);
    expect(JSON.parse((await rc('state', a.id)).stdout)).toMatchObject({ status: 'stopped', pid: 0 });
    expect(JSON.parse((await rc('state', POD)).stdout)).toMatchObject({ status: 'stopped' });
    expect(await rc('delete', POD)).toMatchObject({ code: 0, stderr: '' });
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('refuses a member of a sandbox that does not exist or does not run, leaving nothing', async () => {
    const bundle = makeBundle(path.join(dir, 'a'), ['true'], member());
    const missing = await rc('create', '-b', bundle, sub('a'));
    expect(missing).toMatchObject({ code: 1, stderr: `runcell: cannot create container "${sub('a')}": sandbox "${POD}" does not exist\n` });
    expect(fs.existsSync(root) ? fs.readdirSync(root) : []).toEqual([]);

    const podBundle = makeBundle(path.join(dir, 'pod'), ['sleep', '1000'], asSandbox);
    await rc('create', '-b', podBundle, POD);
    const notRunning = await rc('create', '-b', bundle, sub('a'));
    expect(notRunning.stderr).toBe(`runcell: cannot create container "${sub('a')}": sandbox "${POD}" is not running (it is created)\n`);
    expect(StateFile.list(root).map((id) => id.containerId)).toEqual([POD]);

    await rc('delete', POD);
    await startPod();
    await startMember('b', ['sleep', '1000'], member());
    makeBundle(path.join(dir, 'a'), ['true'], (spec) => {
      spec.annotations = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': sub('b') };
    });
    expect((await rc('create', '-b', bundle, sub('a'))).stderr)
      .toBe(`runcell: cannot create container "${sub('a')}": sandbox "${sub('b')}" does not exist ("${sub('b')}" is a member of sandbox "${POD}")\n`);
    makeBundle(path.join(dir, 'a'), ['true'], (spec) => {
      spec.annotations = { 'io.kubernetes.cri.container-type': 'container' };
    });
    expect((await rc('create', '-b', bundle, sub('a'))).stderr).toContain('"io.kubernetes.cri.container-type" is "container" but no sandbox is named');
  });

  it('OOM scores: the gofer gets its container\'s, the sandbox the lowest of its members (not the pause container), restored when they go', async () => {
    const pod = await startPod((spec) => (spec.process.oomScoreAdj = above(100)));
    expect(score(pod.init!.pid)).toBe(BASE); // the pause container's score does not count
    expect(score(pod.gofer!.pid)).toBe(above(100));
    const a = await startMember('a', ['sleep', '1000'], member((spec) => (spec.process.oomScoreAdj = above(300))));
    expect(score(a.gofer!.pid)).toBe(above(300));
    expect(score(a.user!.pid)).toBe(above(300));
    expect(score(pod.init!.pid)).toBe(above(300));
    await startMember('b', ['sleep', '1000'], member((spec) => (spec.process.oomScoreAdj = above(200))));
    expect(score(pod.init!.pid)).toBe(above(200));
    await startMember('c', ['sleep', '1000'], member()); // no score: changes nothing
    expect(score(pod.init!.pid)).toBe(above(200));
    await rc('delete', '--force', sub('b'));
    expect(score(pod.init!.pid)).toBe(above(300));
    await rc('delete', '--force', sub('a'));
    expect(score(pod.init!.pid)).toBe(BASE); // what the sandbox started with
    expect(record(POD).originalOOMScoreAdj).toBe(BASE);
  });

  it.skipIf(hasCapSysResource())('a member whose score would lower the gofer\'s without CAP_SYS_RESOURCE fails with EACCES, leaving nothing', async () => {
    const pod = await startPod();
    const bundle = makeBundle(path.join(dir, 'low'), ['sleep', '1000'], member((spec) => (spec.process.oomScoreAdj = -1000)));
    const result = await rc('create', '-b', bundle, sub('low'));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`set the oom_score_adj of the gofer of container "${sub('low')}" to -1000: EACCES (permission denied)`);
    expect(StateFile.list(root).map((id) => id.containerId)).toEqual([POD]);
    expect(score(pod.init!.pid)).toBe(BASE);
  });

  it('six members created and deleted concurrently leave consistent state', async () => {
    const pod = await startPod();
    const names = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
    const bundles = names.map((name, i) => makeBundle(path.join(dir, name), ['sleep', '1000'],
      member((spec) => (spec.process.oomScoreAdj = above(100 + 50 * i)))));
    const created = await Promise.all(names.map((name, i) => rc('run', '-d', '-b', bundles[i], sub(name))));
    expect(created.map((r) => r.code)).toEqual(names.map(() => 0));
    expect(StateFile.listSandbox(root, POD)).toHaveLength(7);
    for (const name of names) expect(JSON.parse((await rc('state', sub(name))).stdout).status).toBe('running');
    expect(score(pod.init!.pid)).toBe(above(100));

    // Delete four while two more come: the sandbox lock orders them.
    const members = names.map((name) => record(sub(name)));
    const churn = await Promise.all([
      ...names.slice(0, 4).map((name) => rc('delete', '--force', sub(name))),
      ...['n1', 'n2'].map((name, i) => rc('run', '-d', '-b', bundles[i], sub(name))),
    ]);
    expect(churn.map((r) => r.code)).toEqual([0, 0, 0, 0, 0, 0]);
    const left = StateFile.listSandbox(root, POD).map((id) => id.containerId).sort();
    expect(left).toEqual([POD, sub('m5'), sub('m6'), sub('n1'), sub('n2')].sort());
    for (const m of members.slice(0, 4)) expect(isProcessAlive(m.init!.pid, m.init!.startTime)).toBe(false);
    expect(score(pod.init!.pid)).toBe(above(100)); // n1 has m1's bundle

    const removed = await Promise.all(left.filter((id) => id !== POD).map((id) => rc('delete', '--force', id)));
    expect(removed.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect(score(pod.init!.pid)).toBe(BASE);
    // Nothing of the members is left: every file is the root's.
    expect(fs.readdirSync(root).filter((f) => !f.startsWith(`${POD}_sandbox:${POD}.`))).toEqual([]);
  });
});
