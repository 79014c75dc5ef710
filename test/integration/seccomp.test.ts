// linux.seccomp is enforced, as root on real containers.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, commandExists, PROJECT_ROOT, run as runProgram, runcell, useScratch, waitFor } from '../helpers/env';
import { makeBundle, whyNoContainers } from '../helpers/bundle';
import { ALLOW_LIST_WITHOUT_CLOSE_RANGE } from '../helpers/seccomp-allow-list';

const skip = whyNoContainers();
let dir: string;
let root: string;
// Cgroups are host-wide (/runcell/<id>): files running in parallel must not share ids.
const ID = `c${process.pid}`;
useScratch((d, r) => {
  dir = d;
  root = r;
});

function run(script: string, seccomp: object, edit: (spec: any) => void = () => {}, extra: string[] = []) { // eslint-disable-line @typescript-eslint/no-explicit-any
  const bundle = makeBundle(path.join(dir, 'bundle'), ['sh', '-c', script], (spec) => {
    spec.linux.seccomp = seccomp;
    edit(spec);
  });
  return runcell(['--root', root, ...extra, 'run', '-b', bundle, ID]);
}

// The seccomp agent (test/helpers/seccomp-agent.py): what it received, one JSON line per
// listener, and "answered <nr>" per notification it answered with -errno.
function startAgent(socketPath: string, errno: number) {
  const child = spawn('python3', [path.join(PROJECT_ROOT, 'test/helpers/seccomp-agent.py'), socketPath, String(errno)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  child.stdout!.on('data', (chunk) => (text += chunk));
  return {
    lines: () => text.split('\n').filter((line) => line !== ''),
    received: () => text.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line)),
    listening: () => waitFor(() => text.includes('listening\n'), 'the seccomp agent to listen'),
    stop: () => child.kill('SIGKILL'),
  };
}

const allowBut = (syscalls: object[]) => ({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], syscalls });

describe.skipIf(skip !== null)(`seccomp${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('a profile that denies mkdir with EPERM makes mkdir fail with EPERM, and nothing else', async () => {
    const result = await run('mkdir /tmp/d; echo mkdir=$?; echo x > /tmp/f && cat /tmp/f',
      allowBut([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }]),
      (spec) => spec.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] }));
    expect(result.stderr).toMatch(/mkdir: can't create directory '\/tmp\/d': Operation not permitted/);
    expect(result.stdout).toBe('mkdir=1\nx\n');
    expect(result.code).toBe(0);
  });

  it('SCMP_ACT_KILL_PROCESS kills the process that makes the call (SIGSYS: 159)', async () => {
    // busybox's sh itself calls uname as it starts: the container's process dies at once.
    const result = await run('echo never', allowBut([{ names: ['uname'], action: 'SCMP_ACT_KILL_PROCESS' }]));
    expect(result).toMatchObject({ code: 159, stdout: '' });
  });

  it('an argument comparison matches only the given argument', async () => {
    const result = await run('kill -USR1 $$ 2>/dev/null; echo usr1=$?; kill -0 $$; echo zero=$?',
      allowBut([{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 10, op: 'SCMP_CMP_EQ' }] }]));
    expect(result.stdout).toBe('usr1=1\nzero=0\n');
  });

  it('applies with no_new_privs too, as the last step before exec', async () => {
    const result = await run('mkdir /tmp/d 2>/dev/null; echo mkdir=$?',
      allowBut([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }]), (spec) => (spec.process.noNewPrivileges = true));
    expect(result.stdout).toBe('mkdir=1\n');
  });

  it('skips syscall names it does not know, with a debug line, and refuses unknown actions', async () => {
    const known = await run('echo fine', allowBut([{ names: ['no_such_syscall_here', 'mkdir'], action: 'SCMP_ACT_ERRNO' }]), undefined, ['--debug']);
    expect(known.stdout).toBe('fine\n');
    expect(known.stderr).toContain('seccomp: skipping syscalls this system does not know: no_such_syscall_here');
    const bad = await run('true', allowBut([{ names: ['mkdir'], action: 'SCMP_ACT_BOGUS' }]));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('config.linux.seccomp.syscalls[0].action: unknown or unsupported seccomp action "SCMP_ACT_BOGUS"');
  });

  // The descriptors not handed over are marked close-on-exec before the filter is loaded (with
  // or without no_new_privs), and without close_range through /proc/self/fd: a profile that
  // predates close_range (and refuses it with EPERM) still starts, runs and execs.
  const allowList = { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [{ names: ALLOW_LIST_WITHOUT_CLOSE_RANGE, action: 'SCMP_ACT_ALLOW' }] };
  for (const noNewPrivileges of [false, true]) {
    it(`an allow-list without close_range runs and execs (noNewPrivileges ${noNewPrivileges})`, async () => {
      const bundle = makeBundle(path.join(dir, 'bundle'), ['sh', '-c', 'echo started; read line; echo "got $line"'], (spec) => {
        spec.linux.seccomp = allowList;
        spec.process.noNewPrivileges = noNewPrivileges;
      });
      const ran = await runcell(['--root', root, 'run', '-b', bundle, ID], { input: 'x\n' });
      expect(ran).toMatchObject({ code: 0, stdout: 'started\ngot x\n', stderr: '' });
      const sleeper = makeBundle(path.join(dir, 'sleeper'), ['sleep', '1000'], (spec) => {
        spec.linux.seccomp = allowList;
        spec.process.noNewPrivileges = noNewPrivileges;
      });
      expect(await runcell(['--root', root, 'run', '-d', '-b', sleeper, `${ID}s`])).toMatchObject({ code: 0, stderr: '' });
      // exec'd processes get the container's profile too.
      const exec = await runcell(['--root', root, 'exec', `${ID}s`, 'sh', '-c', 'true && echo exec ran']);
      expect(exec).toMatchObject({ code: 0, stdout: 'exec ran\n', stderr: '' });
    });
  }

  it.skipIf(!commandExists('cc'))('marks descriptors close-on-exec through /proc/self/fd where close_range is refused (an outer filter; needs cc)', async () => {
    const wrapper = path.join(dir, 'deny-close-range');
    execFileSync('cc', ['-o', wrapper, path.join(PROJECT_ROOT, 'test/helpers/deny-close-range.c')]);
    fs.writeFileSync(path.join(dir, 'kept'), 'kept file\n');
    const bundle = makeBundle(path.join(dir, 'bundle'), ['sh', '-c', 'cat <&3; ls /proc/self/fd'], (spec) => {
      spec.linux.seccomp = allowList;
      spec.process.noNewPrivileges = true;
    });
    const kept = fs.openSync(path.join(dir, 'kept'), 'r');
    try {
      // fd 3 is handed over (--preserve-fds 1); ls lists its own directory as fd 4.
      const result = await runProgram(wrapper, [CLI, '--root', root, 'run', '--preserve-fds', '1', '-b', bundle, ID],
        { stdio: ['pipe', 'pipe', 'pipe', kept] });
      expect(result).toMatchObject({ code: 0, stdout: 'kept file\n0\n1\n2\n3\n4\n', stderr: '' });
    } finally {
      fs.closeSync(kept);
    }
  });

  describe('SCMP_ACT_NOTIFY', () => {
    const ENOTBLK = 15; // "Block device required": what no mkdir of its own would say
    const notifyMkdir = (listenerPath: string | undefined) => ({
      ...allowBut([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }]), listenerPath, listenerMetadata: 'test-metadata',
    });

    it('sends the listener and the process state to listenerPath; the agent answers the notified calls', async () => {
      const socketPath = path.join(dir, 'agent.sock');
      const agent = startAgent(socketPath, ENOTBLK);
      try {
        await agent.listening();
        const bundle = makeBundle(path.join(dir, 'bundle'), ['sh', '-c', 'mkdir /tmp/d 2>/dev/null; sleep 1000'], (spec) => {
          spec.linux.seccomp = notifyMkdir(socketPath);
          spec.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
        });
        expect(await runcell(['--root', root, 'create', '-b', bundle, ID])).toMatchObject({ code: 0, stderr: '' });
        const init = JSON.parse((await runcell(['--root', root, 'state', ID])).stdout).pid;
        const user = Number(fs.readFileSync(`/proc/${init}/task/${init}/children`, 'utf8').trim().split(/\s+/)[0]);
        expect(await runcell(['--root', root, 'start', ID])).toMatchObject({ code: 0, stderr: '' });
        await waitFor(() => agent.received().length === 1, 'the listener at the agent');
        const [{ message, fds }] = agent.received();
        expect(fds).toBe(1);
        expect(message).toMatchObject({
          ociVersion: expect.any(String), fds: ['seccompFd'], pid: user, metadata: 'test-metadata',
          state: { ociVersion: expect.any(String), id: ID, status: 'created', pid: init, bundle },
        });
        // The container's process: the first mkdir was answered with ENOTBLK by the agent.
        await waitFor(() => agent.lines().some((line) => line.startsWith('answered ')), 'a notification answered');
        // exec'd processes get the container's profile: a listener of their own, with their pid.
        const pidFile = path.join(dir, 'exec.pid');
        const exec = await runcell(['--root', root, 'exec', '--pid-file', pidFile, ID, 'sh', '-c', 'mkdir /tmp/x; echo exec-mkdir=$?']);
        expect(exec).toMatchObject({ code: 0, stdout: 'exec-mkdir=1\n' });
        expect(exec.stderr).toContain("mkdir: can't create directory '/tmp/x': Block device required");
        expect(agent.received()).toHaveLength(2);
        expect(agent.received()[1].message).toMatchObject({ pid: Number(fs.readFileSync(pidFile, 'utf8')), state: { id: ID, status: 'running' } });
      } finally {
        agent.stop();
      }
    });

    it('runs under `run`, the container\'s process seeing the agent\'s answer', async () => {
      const socketPath = path.join(dir, 'agent.sock');
      const agent = startAgent(socketPath, ENOTBLK);
      try {
        await agent.listening();
        const result = await run('mkdir /tmp/d; echo mkdir=$?', notifyMkdir(socketPath),
          (spec) => spec.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] }));
        expect(result).toMatchObject({ code: 0, stdout: 'mkdir=1\n' });
        expect(result.stderr).toContain("mkdir: can't create directory '/tmp/d': Block device required");
      } finally {
        agent.stop();
      }
    });

    it('refuses a listenerPath that does not exist, and SCMP_ACT_NOTIFY without one, naming the field', async () => {
      const missing = await run('true', notifyMkdir(path.join(dir, 'no-agent.sock')));
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(`config.linux.seccomp.listenerPath: "${path.join(dir, 'no-agent.sock')}" does not exist`);
      const none = await run('true', notifyMkdir(undefined));
      expect(none.code).toBe(1);
      expect(none.stderr).toContain('config.linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listener');
      const asDefault = await run('true', { defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: path.join(dir, 'x') });
      expect(asDefault.stderr).toContain('config.linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action');
      const unused = await run('true', { ...allowBut([]), listenerPath: path.join(dir, 'x') });
      expect(unused.stderr).toContain('config.linux.seccomp.listenerPath: is given, but no rule uses SCMP_ACT_NOTIFY');
    });
  });
});
