// create / start / state / kill / wait / delete on real containers, as root.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Container, createContainer, isProcessAlive, processStartTime, runContainer, startContainer, StateFile, waitContainer } from '../../src';
import { CLI, childEnv, runcell, sleep, useScratch, waitFor } from '../helpers/env';
import { makeBundle, whyNoContainers } from '../helpers/bundle';
import { Cgroup, detectLayout } from '../../src/container/cgroups';

const skip = whyNoContainers();
let dir: string;
let root: string;
let bundle: string;
useScratch((d, r) => {
  dir = d;
  root = r;
  bundle = makeBundle(path.join(dir, 'bundle'), ['sleep', '1000']);
});

const state = async (id: string) => JSON.parse((await runcell(['--root', root, 'state', id])).stdout);
const rc = (...args: string[]) => runcell(['--root', root, ...args]);

describe.skipIf(skip !== null)(`container lifecycle${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('create waits at the gate, start runs, kill stops, wait reports 128+signal twice, delete removes', async () => {
    const pidFile = path.join(dir, 'pid');
    expect(await rc('create', '--bundle', bundle, '--pid-file', pidFile, 'c1')).toMatchObject({ code: 0, stdout: '' });
    const created = await state('c1');
    expect(created).toMatchObject({ id: 'c1', status: 'created', bundle });
    expect(fs.readFileSync(pidFile, 'utf8')).toBe(String(created.pid)); // no trailing newline
    expect(isProcessAlive(created.pid, processStartTime(created.pid))).toBe(true);
    expect(fs.readlinkSync(`/proc/${created.pid}/ns/pid`)).not.toBe(fs.readlinkSync('/proc/self/ns/pid'));

    expect(await rc('start', 'c1')).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await state('c1')).toMatchObject({ status: 'running', pid: created.pid });
    expect((await rc('start', 'c1')).stderr).toBe('runcell: cannot start container "c1" in state running\n');
    expect((await rc('delete', 'c1')).stderr).toBe('runcell: cannot delete container "c1" in state running\n');

    expect(await rc('kill', 'c1', 'KILL')).toMatchObject({ code: 0 });
    const waited = await rc('wait', 'c1');
    expect(waited.stdout).toBe('{"id":"c1","exitStatus":137}\n');
    expect((await rc('wait', 'c1')).stdout).toBe(waited.stdout);
    expect(await state('c1')).toMatchObject({ status: 'stopped', pid: 0 });
    expect((await rc('kill', 'c1', '15')).stderr).toContain('container not running');
    expect(await rc('delete', 'c1')).toMatchObject({ code: 0 });
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('once wait answers, the container is stopped: a plain delete right after it succeeds (library cycle)', async () => {
    // The init reports its status before it exits; wait must not answer while it still runs.
    const once = makeBundle(path.join(dir, 'once'), ['true']);
    const devNull = fs.openSync('/dev/null', 'r+');
    try {
      for (let i = 0; i < 8; i++) {
        await createContainer(root, `w${i}`, { bundle: once, stdio: [devNull, devNull, devNull] });
        await startContainer(root, `w${i}`);
        const before = Date.now();
        expect(await waitContainer(root, `w${i}`)).toEqual({ id: `w${i}`, exitStatus: 0 });
        expect(Container.load(root, `w${i}`).status).toBe('stopped');
        // The gofer's record of the exit: its time in UTC to the millisecond, as Date writes it.
        const exit = JSON.parse(fs.readFileSync(new StateFile(root, { containerId: `w${i}`, sandboxId: `w${i}` }).pathOf('exit'), 'utf8'));
        expect(exit.exited).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        expect(new Date(exit.exited).toISOString()).toBe(exit.exited);
        expect(Date.parse(exit.exited)).toBeGreaterThanOrEqual(before - 1000);
        expect(Date.parse(exit.exited)).toBeLessThanOrEqual(Date.now() + 1000);
        await Container.delete(root, `w${i}`);
      }
    } finally {
      fs.closeSync(devNull);
    }
  });

  it('createContainer and runContainer answer the record as saved, the one a load reads right after', async () => {
    const devNull = fs.openSync('/dev/null', 'r+');
    try {
      const created = await createContainer(root, 'rec', { bundle, stdio: [devNull, devNull, devNull] });
      // Exactly what is on disk (JSON drops nothing the saved record holds).
      expect(JSON.parse(JSON.stringify(created.record))).toEqual(Container.load(root, 'rec').record);
      expect(created.status).toBe('created');
      expect(created.state()).toEqual(Container.load(root, 'rec').state());
      await Container.delete(root, 'rec', { force: true });
      const running = await runContainer(root, 'rec', { bundle, stdio: [devNull, devNull, devNull] });
      expect(JSON.parse(JSON.stringify(running.container.record))).toEqual(Container.load(root, 'rec').record);
      expect(running.container.status).toBe('running');
      expect(running.container.record.user?.pid).toBeGreaterThan(0);
      running.signal('KILL');
      expect(await running.exited).toBe(137);
      expect(fs.readdirSync(root)).toEqual([]);
    } finally {
      fs.closeSync(devNull);
    }
  });

  it('delete --force kills every process of the cgroup: the init first, then what its death leaves there', async () => {
    // Its own pid namespace: the init's death takes the namespace's processes with it, and a
    // host process someone put in its cgroup is killed in the cgroup. Sharing the host's: the
    // init's children outlive it (reparented), and are killed in the cgroup.
    for (const [id, sharesHostPids] of [['own-pids', false], ['host-pids', true]] as const) {
      const b = makeBundle(path.join(dir, id), ['sh', '-c', 'sleep 1000 & sleep 1000 & wait'], (spec) => {
        if (sharesHostPids) spec.linux.namespaces = spec.linux.namespaces.filter((ns: { type: string }) => ns.type !== 'pid');
      });
      expect(await rc('run', '-d', '-b', b, id)).toMatchObject({ code: 0 });
      const cgroup = new Cgroup(detectLayout(), `/runcell/${id}`);
      const outsider = spawn('sleep', ['1000'], { stdio: 'ignore' });
      try {
        await waitFor(() => cgroup.pids().length === 4, 'the init, the shell and its two sleeps in the cgroup');
        for (const file of cgroup.procsFiles()) fs.writeFileSync(file, String(outsider.pid));
        const inside = cgroup.pids();
        expect(inside).toContain(outsider.pid);
        expect(await rc('delete', '--force', id)).toMatchObject({ code: 0, stderr: '' });
        expect(cgroup.directories().filter((d) => fs.existsSync(d))).toEqual([]);
        for (const pid of inside) expect(fs.existsSync(`/proc/${pid}`) && !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')).toBe(false);
      } finally {
        outsider.kill('SIGKILL');
      }
    }
  });

  it('sees a container stopped when its init or its process is SIGKILLed from outside', async () => {
    for (const victim of ['init', 'user'] as const) {
      const id = `k-${victim}`;
      await rc('create', '-b', bundle, id);
      await rc('start', id);
      const record = new StateFile<{ init: { pid: number }; user: { pid: number } }>(root, { containerId: id, sandboxId: id }).load();
      process.kill(record[victim].pid, 'SIGKILL');
      expect(JSON.parse((await rc('wait', id)).stdout).exitStatus).toBe(137);
      expect(await state(id)).toMatchObject({ status: 'stopped', pid: 0 });
      expect(await rc('delete', id)).toMatchObject({ code: 0 });
    }
  });

  it('kill --all succeeds and signals what is left, also when the init is already gone', async () => {
    makeBundle(bundle, ['sh', '-c', 'sleep 1000 & sleep 1000 & wait']);
    await rc('create', '-b', bundle, 'all');
    await rc('start', 'all');
    expect(await rc('kill', '--all', 'all', 'KILL')).toMatchObject({ code: 0 });
    expect(JSON.parse((await rc('wait', 'all')).stdout).exitStatus).toBe(137);
    expect(await rc('kill', '--all', 'all', '9')).toMatchObject({ code: 0 });
  });

  it('a failed duplicate create leaves the existing container untouched', async () => {
    await rc('create', '-b', bundle, 'dup');
    const before = await state('dup');
    const again = await rc('create', '-b', bundle, 'dup');
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('runcell: container "dup" already exists\n');
    expect(await state('dup')).toEqual(before);
    expect(isProcessAlive(before.pid, processStartTime(before.pid))).toBe(true);
  });

  it('a create refused at its launch plan leaves no gofer (started before the plan, it ends with its pipe), no cgroup, no files', async () => {
    // The gofer is spawned while the cgroup is made and the plan built; this plan is refused.
    const bad = makeBundle(path.join(dir, 'badcap'), ['true'], (spec) => {
      spec.process.capabilities.bounding.push('CAP_BOGUS');
    });
    const gofers = () => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(process.pid) &&
          fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('gofer');
      } catch {
        return false;
      }
    });
    await expect(createContainer(root, 'badcap', { bundle: bad, stdio: [0, 1, 2] })).rejects.toThrow(/CAP_BOGUS/);
    await waitFor(() => gofers().length === 0, `the gofers ${gofers().join(', ')} to end`);
    expect(fs.readdirSync(root).filter((f) => f.startsWith('badcap_'))).toEqual([]);
    expect(new Cgroup(detectLayout(), '/runcell/badcap').directories().filter((d) => fs.existsSync(d))).toEqual([]);
  });

  it('starts a container whose annotations exceed the 64 KiB of a FIFO (Kubernetes puts whole objects there)', async () => {
    makeBundle(bundle, ['sleep', '1000'], (spec) => {
      spec.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(200 * 1024) };
    });
    expect(await rc('create', '-b', bundle, 'big')).toMatchObject({ code: 0, stderr: '' });
    expect(await rc('start', 'big')).toMatchObject({ code: 0, stderr: '' });
    const running = await state('big');
    expect(running.status).toBe('running');
    expect(running.annotations['kubectl.kubernetes.io/last-applied-configuration']).toHaveLength(200 * 1024);
  });

  it('the gofer refuses an over-long start line with EMSGSIZE, stays idle, and the container stays startable', async () => {
    await rc('create', '-b', bundle, 'long');
    const file = new StateFile<{ gofer: { pid: number } }>(root, { containerId: 'long', sandboxId: 'long' });
    const gofer = file.load().gofer.pid;
    const ready = fs.openSync(file.pathOf('ready'), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const gate = fs.openSync(file.pathOf('gate'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    // One line of 96 KiB (the gofer takes 64 KiB), written whole: a full FIFO only makes us
    // wait for the gofer to read on.
    const line = Buffer.from('x'.repeat(96 * 1024) + '\n');
    for (let written = 0; written < line.length;) {
      try {
        written += fs.writeSync(gate, line, written);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        await sleep(5);
      }
    }
    fs.closeSync(gate);
    const answer = Buffer.alloc(64);
    let n = 0;
    await waitFor(() => {
      try {
        n += fs.readSync(ready, answer, n, answer.length - n, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      }
      return answer.includes('\n');
    }, "the gofer's answer");
    fs.closeSync(ready);
    expect(answer.toString('utf8', 0, n)).toBe('error -1 90\n'); // EMSGSIZE
    // Idle: blocked in poll, not spinning on a buffer it cannot empty. An idle process gains
    // no CPU time however busy the machine is.
    const ticks = () => Number(fs.readFileSync(`/proc/${gofer}/stat`, 'utf8').split(') ')[1].split(' ')[11]); // utime
    const before = ticks();
    await sleep(300);
    expect(ticks() - before).toBeLessThan(5);
    expect(await state('long')).toMatchObject({ status: 'created' });
    expect(await rc('start', 'long')).toMatchObject({ code: 0, stderr: '' });
    expect(await state('long')).toMatchObject({ status: 'running' });
  });

  it('12 concurrent creates of distinct ids all succeed; 8 of one id: exactly one', async () => {
    const distinct = await Promise.all(Array.from({ length: 12 }, (_, i) => rc('create', '-b', bundle, `d${i}`)));
    expect(distinct.map((r) => r.code)).toEqual(Array(12).fill(0));
    expect((await rc('list', '-q')).stdout.trim().split('\n').sort()).toEqual(Array.from({ length: 12 }, (_, i) => `d${i}`).sort());
    const same = await Promise.all(Array.from({ length: 8 }, () => rc('create', '-b', bundle, 'one')));
    expect(same.filter((r) => r.code === 0)).toHaveLength(1);
    for (const loser of same.filter((r) => r.code !== 0)) expect(loser.stderr).toBe('runcell: container "one" already exists\n');
    expect(await state('one')).toMatchObject({ status: 'created' });
  }, 60_000);

  it('a CLI SIGKILLed during create leaves nothing that delete --force cannot remove', { timeout: 120_000 }, async () => {
    // create takes some tens of milliseconds here: kill it at instants spread over them.
    for (let delayMs = 0; delayMs <= 100; delayMs += 3) {
      const id = `crash${delayMs}`;
      const cli = spawn(CLI, ['--root', root, 'create', '-b', bundle, id], { env: childEnv(), stdio: 'ignore' });
      const exited = new Promise((resolve) => cli.once('exit', resolve));
      await sleep(delayMs);
      cli.kill('SIGKILL');
      await exited;
      await sleep(100); // pacing: an uncommitted gofer kills its init (the end checks that it did)
      const record = fs.existsSync(path.join(root, `${id}_sandbox:${id}.state`))
        ? new StateFile<{ init: { pid: number; startTime: number } | null; gofer: { pid: number; startTime: number } | null }>(root, { containerId: id, sandboxId: id }).load()
        : null;
      expect(await rc('delete', '--force', id)).toMatchObject({ code: 0 });
      for (const proc of [record?.init, record?.gofer]) if (proc) expect(isProcessAlive(proc.pid, proc.startTime)).toBe(false);
      const left = fs.existsSync(root) ? fs.readdirSync(root) : [];
      expect(left.filter((f) => f.startsWith(`${id}_`))).toEqual([]);
    }
    // No init or gofer of these containers is left anywhere (an uncommitted gofer kills its
    // init when it sees the CLI gone, and exits).
    const leftovers = () => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('runcell-init') &&
          fs.readlinkSync(`/proc/${p}/cwd`).startsWith(dir);
      } catch {
        return false;
      }
    });
    await waitFor(() => leftovers().length === 0, `the runcell-init processes ${leftovers().join(', ')} to end`);
  });

  it('--preserve-fds passes descriptors 3.. on, and nothing else', async () => {
    makeBundle(bundle, ['sh', '-c', 'ls /proc/self/fd | tr "\\n" " "; cat <&3']);
    const piped = path.join(dir, 'passed');
    fs.writeFileSync(piped, 'through fd 3\n');
    const fd = fs.openSync(piped, 'r');
    try {
      const result = await runcell(['--root', root, 'run', '--preserve-fds', '1', '-b', bundle, 'fds'], { stdio: ['ignore', 'pipe', 'pipe', fd] });
      expect(result.stdout).toBe('0 1 2 3 4 through fd 3\n'); // 4: ls's own directory
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe.skipIf(skip !== null)(`damaged state${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('delete --force of a container whose state file is truncated stops its processes and removes it', async () => {
    await rc('create', '-b', bundle, 'torn');
    await rc('start', 'torn');
    const record = new StateFile<{ init: { pid: number; startTime: number }; gofer: { pid: number; startTime: number } }>(root, { containerId: 'torn', sandboxId: 'torn' }).load();
    fs.truncateSync(path.join(root, 'torn_sandbox:torn.state'), 10);
    expect((await rc('state', 'torn')).stderr).toMatch(/damaged/);
    expect(await rc('delete', '--force', 'torn')).toMatchObject({ code: 0 });
    expect(isProcessAlive(record.init.pid, record.init.startTime)).toBe(false);
    expect(isProcessAlive(record.gofer.pid, record.gofer.startTime)).toBe(false);
    expect(fs.readdirSync(root)).toEqual([]);
    for (const d of new Cgroup(detectLayout(), '/runcell/torn').directories()) expect(fs.existsSync(d)).toBe(false);
  });

  it('the init keeps no capability once the process runs', async () => {
    await rc('run', '-d', '-b', bundle, 'caps');
    const record = new StateFile<{ init: { pid: number } }>(root, { containerId: 'caps', sandboxId: 'caps' }).load();
    const status = fs.readFileSync(`/proc/${record.init.pid}/status`, 'utf8');
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^CapBnd:\s+0+$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
  });
});
