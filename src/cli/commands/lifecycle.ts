// create, run: runc's flags and output, each over one library call. Two registrations, so that
// each command line builds only its own command (and `start`, start.ts, comes between them).
import type { Command } from 'commander';
import type { Context } from '../context';
import { forwardSignals } from '../signals';

const count = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: "${value}" is not a whole number`);
  return n;
};

// systemd socket activation: the descriptors are passed on when LISTEN_PID names us.
function listenFds(): number {
  const n = Number(process.env.LISTEN_FDS);
  return Number.isInteger(n) && n > 0 && Number(process.env.LISTEN_PID) === process.pid ? n : 0;
}

interface CreateFlags {
  bundle: string;
  pidFile?: string;
  preserveFds: number;
  consoleSocket?: string;
}

function createFlags(command: Command): Command {
  return command
    .option('-b, --bundle <dir>', 'the bundle directory', '.')
    .option('--pid-file <file>', 'write the container\'s pid to this file')
    .option('--preserve-fds <n>', 'pass descriptors 3..3+N-1 on to the container', count('preserve-fds'), 0)
    .option('--console-socket <path>', 'for process.terminal: send the terminal\'s master to this unix socket')
    .option('--no-pivot', 'accepted for compatibility (runcell always pivots, or moves a ramfs root)')
    .option('--no-new-keyring', 'accepted for compatibility (runcell creates no session keyring)');
}

export function registerCreate(program: Command, context: () => Context): void {
  createFlags(program.command('create').description('create a container: its process waits for `start`')
    .argument('<id>', 'the new container\'s id'))
    .action(async (id: string, options: CreateFlags) => {
      const { createContainer } = await import('../../container/lifecycle');
      await createContainer(context().root, id, {
        bundle: options.bundle, pidFile: options.pidFile, preserveFds: options.preserveFds, listenFds: listenFds(),
        consoleSocket: options.consoleSocket, systemdCgroup: context().systemdCgroup, rootless: context().rootless,
      });
    });
}

export function registerRun(program: Command, context: () => Context): void {
  createFlags(program.command('run').description('create and start a container, and wait for it unless --detach')
    .argument('<id>', 'the new container\'s id'))
    .option('-d, --detach', 'return once the container runs')
    .option('--keep', 'do not delete the container after it exits (delete it later)')
    // runc makes itself a child subreaper unless told not to; runcell never does: a container's
    // orphans go to its pid 1 (the init), or, without a pid namespace of its own, to the host's
    // reaper, as under runc --no-subreaper.
    .option('--no-subreaper', 'accepted for compatibility (runcell never makes itself a subreaper)')
    .action(async (id: string, options: CreateFlags & { detach?: boolean; keep?: boolean }) => {
      const { createContainer, runContainer, startContainer } = await import('../../container/lifecycle');
      const { callerTerminalSize, copyTerminal } = await import('../terminal');
      const root = context().root;
      const createOptions = {
        bundle: options.bundle, pidFile: options.pidFile, preserveFds: options.preserveFds, listenFds: listenFds(),
        consoleSocket: options.consoleSocket, systemdCgroup: context().systemdCgroup, rootless: context().rootless,
      };
      if (options.detach) {
        await createContainer(root, id, createOptions);
        await startContainer(root, id);
        return;
      }
      const running = await runContainer(root, id, { ...createOptions, keep: options.keep === true, consoleSize: callerTerminalSize() });
      const terminal = running.terminal === undefined ? undefined : copyTerminal(running.terminal);
      const stopForwarding = forwardSignals((signal) => running.signal(signal), terminal !== undefined);
      try {
        context().exitStatus = await running.exited;
      } finally {
        stopForwarding();
        await terminal?.finish();
      }
    });
}
