// --console-socket: the terminal's master goes to the caller's socket (SCM_RIGHTS), as conmon
// and containerd's shim receive it. Node cannot receive descriptors: a Python receiver does.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { childEnv, CLI, commandExists, runcell, useScratch, waitFor } from '../helpers/env';
import { consoleReceiver } from '../helpers/console';
import { makeBundle, whyNoContainers } from '../helpers/bundle';

const skip = whyNoContainers() ?? (commandExists('python3') ? null : 'needs python3 to receive the terminal');
const ID = `tty${process.pid}`;
let dir: string;
let root: string;
useScratch((d, r) => {
  dir = d;
  root = r;
});

describe.skipIf(skip !== null)(`--console-socket${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('sends a working terminal: the process has it as tty and stdio, and reads what is typed', async () => {
    const socketPath = path.join(dir, 'console.sock');
    const bundle = makeBundle(path.join(dir, 'bundle'), ['sh', '-c', 'tty; read line; echo "got $line"'], (spec) => {
      spec.process.terminal = true;
      spec.process.consoleSize = { height: 30, width: 100 };
    });
    const console = consoleReceiver(socketPath, 'hello\n');
    await console.listening;
    expect(await runcell(['--root', root, 'create', '--console-socket', socketPath, '-b', bundle, ID])).toMatchObject({ code: 0, stderr: '' });
    expect(await runcell(['--root', root, 'start', ID])).toMatchObject({ code: 0 });
    const text = await console.output;
    expect(text).toContain('payload=/dev/ptmx');
    expect(text).toMatch(/output='.*\/dev\/pts\/0\\r\\n.*got hello\\r\\n'/);
    expect(text).toContain('end=eio'); // every slave closed once the process exited
  });

  it('create with a terminal keeps none of the caller\'s stdio: its pipes reach EOF when create returns', async () => {
    // containerd's shim reads create's output to EOF before it goes on (go-runc's cmdOutput):
    // an init or a waiting process holding the pipes kept `ctr run -t` from ever starting.
    const socketPath = path.join(dir, 'console.sock');
    const bundle = makeBundle(path.join(dir, 'bundle'), ['sh', '-c', 'ls -l /proc/self/fd/; echo end'], (spec) => (spec.process.terminal = true));
    const console = consoleReceiver(socketPath, '');
    await console.listening;
    const create = spawn(CLI, ['--root', root, 'create', '--console-socket', socketPath, '-b', bundle, ID], { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let exitCode: number | null = null;
    let closed = false;
    let stderr = '';
    create.stderr.on('data', (chunk) => (stderr += chunk));
    create.once('exit', (code) => (exitCode = code));
    create.once('close', () => (closed = true)); // the process exited and every pipe reached EOF
    await waitFor(() => exitCode !== null, 'create to exit');
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: '' });
    await waitFor(() => closed, 'create\'s stdin, stdout and stderr to be closed by every process of the container');
    expect(await runcell(['--root', root, 'start', ID])).toMatchObject({ code: 0 });
    const text = await console.output;
    // The process's stdio is the terminal, and nothing else of the caller's reached it.
    expect(text).toMatch(/output='.*0 -> \/dev\/pts\/0\\r\\n.*1 -> \/dev\/pts\/0\\r\\n.*2 -> \/dev\/pts\/0\\r\\n.*end\\r\\n'/);
    expect(text).not.toContain('pipe:');
    expect(text).toContain('end=eio');
  });

  it('refuses a console socket without a terminal, and a detached terminal without a socket', async () => {
    const plain = makeBundle(path.join(dir, 'bundle'), ['true']);
    const noTerminal = await runcell(['--root', root, 'create', '--console-socket', path.join(dir, 's'), '-b', plain, ID]);
    expect(noTerminal.stderr).toContain('--console-socket needs a terminal');
    makeBundle(path.join(dir, 'bundle'), ['true'], (spec) => (spec.process.terminal = true));
    const noSocket = await runcell(['--root', root, 'create', '-b', plain, ID]);
    expect(noSocket.stderr).toContain('config.process.terminal: a terminal needs --console-socket');
  });

  it('a console socket nobody listens on fails create with the reason, and leaves nothing', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['true'], (spec) => (spec.process.terminal = true));
    const result = await runcell(['--root', root, 'create', '--console-socket', path.join(dir, 'nobody.sock'), '-b', bundle, ID]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`send the terminal to the console socket "${path.join(dir, 'nobody.sock')}": ENOENT`);
    expect(fs.readdirSync(root)).toEqual([]);
  });
});
