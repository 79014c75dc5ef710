// --console-socket: the terminal's master goes to the caller's socket (SCM_RIGHTS), as conmon
// and containerd's shim receive it. Node cannot receive descriptors: a Python receiver does.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandExists, runcell, useScratch } from '../helpers/env';
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
