// exec: a process in a running container, with runc's flags; exit codes; detached with a pid
// file; refused when paused or stopped; reached by ps, kill --all and delete. As root.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isProcessAlive, processStartTime, StateFile, type ContainerRecord } from '../../src';
import { commandExists, runcell, useScratch, waitFor } from '../helpers/env';
import { consoleReceiver } from '../helpers/console';
import { makeBundle, whyNoContainers, type SpecEdit } from '../helpers/bundle';

const skip = whyNoContainers();
const ID = `ex${process.pid}`;
let dir: string;
let root: string;
useScratch((d, r) => {
  dir = d;
  root = r;
});

const rc = (...args: string[]) => runcell(['--root', root, ...args]);
const exec = (...args: string[]) => rc('exec', ID, ...args);

async function startContainer(edit: SpecEdit = () => {}): Promise<ContainerRecord> {
  const bundle = makeBundle(path.join(dir, 'bundle'), ['sleep', '1000'], (spec) => {
    spec.hostname = 'exec-host';
    edit(spec);
  });
  expect(await rc('run', '-d', '-b', bundle, ID)).toMatchObject({ code: 0, stderr: '' });
  return new StateFile<ContainerRecord>(root, { containerId: ID, sandboxId: ID }).load();
}

const capEff = (status: string) => BigInt('0x' + /CapEff:\s*([0-9a-f]+)/.exec(status)![1]);
const CAP_SYS_ADMIN = 1n << 21n;

describe.skipIf(skip !== null)(`exec${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('runs in the container\'s namespaces with its process\'s settings, and passes exit statuses on', async () => {
    const container = await startContainer();
    const user = container.user!.pid;
    const links = (await exec('sh', '-c', 'for t in pid mnt net uts ipc; do readlink /proc/self/ns/$t; done')).stdout.trim().split('\n');
    expect(links).toEqual(['pid', 'mnt', 'net', 'uts', 'ipc'].map((t) => fs.readlinkSync(`/proc/${user}/ns/${t}`)));
    const inside = await exec('sh', '-c', 'hostname; echo $$; id -u; pwd; echo $PATH');
    const [hostname, pid, ...rest] = inside.stdout.split('\n');
    expect(hostname).toBe('exec-host');
    expect(Number(pid)).toBeLessThan(20); // a pid of the container's namespace, not the host's
    expect(rest.join('\n')).toBe('0\n/\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n');
    expect((await rc('exec', '--cwd', '/tmp', ID, 'cat')).code).toBe(0);
    expect(await runcell(['--root', root, 'exec', ID, 'cat'], { input: 'through stdin\n' })).toMatchObject({ code: 0, stdout: 'through stdin\n' });

    expect((await exec('sh', '-c', 'exit 7')).code).toBe(7);
    expect((await exec('sh', '-c', 'kill -TERM $$')).code).toBe(143);
    const missing = await exec('no-such-program');
    expect(missing).toMatchObject({ code: 255, stdout: '' });
    expect(missing.stderr).toBe(`runcell: cannot exec in container "${ID}": exec "no-such-program": ENOENT (no such file or directory)\n`);
    const badCwd = await rc('exec', '--cwd', '/nowhere', ID, 'true');
    expect(badCwd).toMatchObject({ code: 255 });
    expect(badCwd.stderr).toContain('enter the working directory "/nowhere": ENOENT');
  });

  it('applies --user, --cwd, --env, --cap and --no-new-privs', async () => {
    await startContainer((spec) => (spec.process.noNewPrivileges = false));
    const plain = (await exec('cat', '/proc/self/status')).stdout;
    expect(plain).toMatch(/NoNewPrivs:\s*0/);
    expect(capEff(plain) & CAP_SYS_ADMIN).toBe(0n);

    const script = 'id -u; id -g; pwd; echo "$FOO $HOME"; cat /proc/self/status';
    const result = await rc('exec', '-u', '1000:1001', '--cwd', '/tmp', '-e', 'FOO=bar', '--env', 'HOME=/tmp',
      '--cap', 'CAP_SYS_ADMIN', '--no-new-privs', ID, 'sh', '-c', script);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const [uid, gid, cwd, env, ...status] = result.stdout.split('\n');
    expect([uid, gid, cwd, env]).toEqual(['1000', '1001', '/tmp', 'bar /tmp']);
    expect(status.join('\n')).toMatch(/NoNewPrivs:\s*1/);
    // An added capability is ambient too, so a non-root user keeps it across exec (as with runc).
    expect(capEff(status.join('\n')) & CAP_SYS_ADMIN).toBe(CAP_SYS_ADMIN);

    for (const [args, message] of [
      [['-u', 'root'], '--user: "root" is not uid[:gid] (numbers)'],
      [['--cap', 'CAP_FLY'], '--cap: unknown capability "CAP_FLY"'],
      [['-e', 'NOVALUE'], '--env: "NOVALUE" does not have the form KEY=value'],
      [['--cwd', 'relative'], '--cwd: "relative" is not an absolute path'],
    ] as const) {
      expect(await rc('exec', ...args, ID, 'true')).toMatchObject({ code: 255, stderr: `runcell: ${message}\n` });
    }
    // As runc: no command, no process file, no exec (never the container's own process again).
    expect(await rc('exec', ID)).toMatchObject({ code: 255, stderr: 'runcell: exec needs a command (or a --process with args)\n' });
  });

  it('runs a --process file, and names the field that is wrong in a bad one', async () => {
    await startContainer();
    const file = path.join(dir, 'process.json');
    fs.writeFileSync(file, JSON.stringify({
      args: ['sh', '-c', 'echo "$X"; pwd; id -u'], env: ['X=from-file', 'PATH=/bin'], cwd: '/etc', user: { uid: 7, gid: 7 },
    }));
    expect(await rc('exec', '-p', file, ID)).toMatchObject({ code: 0, stdout: 'from-file\n/etc\n7\n', stderr: '' });
    // A process file without capabilities gets the container's (as with runc): not none, not all.
    fs.writeFileSync(file, JSON.stringify({ args: ['cat', '/proc/self/status'], cwd: '/', user: { uid: 0, gid: 0 } }));
    const fromFile = capEff((await rc('exec', '-p', file, ID)).stdout);
    expect(fromFile).not.toBe(0n);
    expect(fromFile).toBe(capEff((await exec('cat', '/proc/self/status')).stdout));
    fs.writeFileSync(file, JSON.stringify({ args: ['true'], cwd: 'etc', user: { uid: 0, gid: 0 } }));
    expect(await rc('exec', '--process', file, ID)).toMatchObject({ code: 255, stderr: `runcell: ${file}: process.cwd: must be an absolute path\n` });
    expect((await rc('exec', '-p', path.join(dir, 'none.json'), ID)).stderr).toContain('--process: cannot read');
  });

  it('detached: writes the pid file, and ps, kill --all and delete --force reach the process', async () => {
    const container = await startContainer();
    const pidFile = path.join(dir, 'exec.pid');
    expect(await rc('exec', '-d', '--pid-file', pidFile, ID, 'sleep', '1000')).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const text = fs.readFileSync(pidFile, 'utf8');
    expect(text).toMatch(/^\d+$/); // no trailing newline
    const pid = Number(text);
    const identity = { pid, startTime: processStartTime(pid) };
    expect(fs.readlinkSync(`/proc/${pid}/ns/pid`)).toBe(fs.readlinkSync(`/proc/${container.user!.pid}/ns/pid`));
    expect(JSON.parse((await rc('ps', '--format', 'json', ID)).stdout)).toContain(pid);
    expect(await rc('kill', '--all', ID, 'KILL')).toMatchObject({ code: 0 });
    await waitFor(() => !isProcessAlive(identity.pid, identity.startTime), 'the exec\'d process to end');

    await rc('delete', '--force', ID);
    const again = await startContainer();
    await rc('exec', '-d', '--pid-file', pidFile, ID, 'sh', '-c', 'sleep 1000 & sleep 1000');
    const second = Number(fs.readFileSync(pidFile, 'utf8'));
    const secondIdentity = { pid: second, startTime: processStartTime(second) };
    expect(await rc('delete', '--force', ID)).toMatchObject({ code: 0 });
    expect(isProcessAlive(secondIdentity.pid, secondIdentity.startTime)).toBe(false);
    expect(isProcessAlive(again.init!.pid, again.init!.startTime)).toBe(false);
  });

  it('is refused in a paused or stopped container', async () => {
    await startContainer();
    await rc('pause', ID);
    expect(await exec('true')).toMatchObject({ code: 255, stderr: `runcell: cannot exec in container "${ID}": container is paused (resume it first, or use --ignore-paused)\n` });
    await rc('resume', ID);
    expect((await exec('true')).code).toBe(0);
    await rc('kill', ID, 'KILL');
    await rc('wait', ID);
    expect(await exec('true')).toMatchObject({ code: 255, stderr: `runcell: cannot exec in container "${ID}": container not running\n` });
    expect(await rc('exec', 'no-such-container', 'true')).toMatchObject({ code: 255, stderr: 'runcell: container "no-such-container" does not exist\n' });
  });

  it.skipIf(!commandExists('python3'))('--tty with --console-socket gives the process a terminal of the container\'s devpts', async () => {
    await startContainer();
    const socketPath = path.join(dir, 'exec.sock');
    const console = consoleReceiver(socketPath, 'typed\n');
    await console.listening;
    const pidFile = path.join(dir, 'tty.pid');
    const result = await rc('exec', '-d', '-t', '--console-socket', socketPath, '--pid-file', pidFile, ID, 'sh', '-c', 'tty; read line; echo "got $line"');
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const text = await console.output;
    expect(text).toContain('payload=/dev/ptmx');
    expect(text).toMatch(/output='.*\/dev\/pts\/\d+\\r\\n.*got typed\\r\\n'/);
    expect(fs.readFileSync(pidFile, 'utf8')).toMatch(/^\d+$/);
    expect((await rc('exec', '-t', '-d', ID, 'true')).stderr).toContain('a terminal needs --console-socket');
  });
});
