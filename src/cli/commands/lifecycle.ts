// create, start, run, kill, wait: runc's flags and output, each over one library call.
import { Option, type Command } from 'commander';
import type { Context } from '../context';
import { writeOut } from '../output';

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
}

function createFlags(command: Command): Command {
  return command
    .option('-b, --bundle <dir>', 'the bundle directory', '.')
    .option('--pid-file <file>', 'write the container\'s pid to this file')
    .option('--preserve-fds <n>', 'pass descriptors 3..3+N-1 on to the container', count('preserve-fds'), 0)
    .option('--console-socket <path>', 'not supported yet: terminals come with console support')
    .option('--no-pivot', 'accepted for compatibility (runcell always pivots, or moves a ramfs root)')
    .option('--no-new-keyring', 'accepted for compatibility (runcell creates no session keyring)');
}

export function register(program: Command, context: () => Context): void {
  createFlags(program.command('create').description('create a container: its process waits for `start`')
    .argument('<id>', 'the new container\'s id'))
    .action(async (id: string, options: CreateFlags & { consoleSocket?: string }) => {
      if (options.consoleSocket !== undefined) throw new Error('--console-socket is not supported yet');
      const { createContainer } = await import('../../container/lifecycle');
      await createContainer(context().root, id, {
        bundle: options.bundle, pidFile: options.pidFile, preserveFds: options.preserveFds, listenFds: listenFds(),
      });
    });

  program.command('start').description('start the process of a created container')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .action(async (id: string) => {
      const { startContainer } = await import('../../container/lifecycle');
      await startContainer(context().root, id);
    });

  createFlags(program.command('run').description('create and start a container, and wait for it unless --detach')
    .argument('<id>', 'the new container\'s id'))
    .option('-d, --detach', 'return once the container runs')
    .action(async (id: string, options: CreateFlags & { detach?: boolean; consoleSocket?: string }) => {
      if (options.consoleSocket !== undefined) throw new Error('--console-socket is not supported yet');
      const { createContainer, runContainer, startContainer } = await import('../../container/lifecycle');
      const root = context().root;
      const createOptions = { bundle: options.bundle, pidFile: options.pidFile, preserveFds: options.preserveFds, listenFds: listenFds() };
      if (options.detach) {
        await createContainer(root, id, createOptions);
        await startContainer(root, id);
        return;
      }
      const running = await runContainer(root, id, createOptions);
      // In the foreground we stand for the container: signals sent to us are its.
      const forward = (signal: NodeJS.Signals) => running.signal(signal);
      const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];
      for (const signal of signals) process.on(signal, forward);
      const status = await running.exited;
      for (const signal of signals) process.off(signal, forward);
      context().exitStatus = status;
    });

  program.command('kill').description('send a signal (default SIGTERM) to a container')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .argument('[signal]', 'signal name (with or without SIG) or number', 'SIGTERM')
    .option('-a, --all', 'signal every process of the container')
    .option('-s, --signal <signal>', 'the signal, as the OCI command line names it')
    .action(async (id: string, signal: string, options: { all?: boolean; signal?: string }) => {
      const { killContainer } = await import('../../container/lifecycle');
      await killContainer(context().root, id, options.signal ?? signal, { all: options.all === true });
    });

  program.command('wait').description('wait for a container to exit and print its exit status')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .action(async (id: string) => {
      const { waitContainer } = await import('../../container/lifecycle');
      writeOut(JSON.stringify(await waitContainer(context().root, id)) + '\n');
    });
}

export function registerCgroupCommands(program: Command, context: () => Context): void {
  for (const [name, pause] of [['pause', true], ['resume', false]] as const) {
    program.command(name).description(pause ? 'freeze every process of a container' : 'thaw a paused container')
      .argument('<id>', 'container id (or a unique prefix of one)')
      .action(async (id: string) => {
        const { pauseContainer } = await import('../../container/lifecycle');
        await pauseContainer(context().root, id, pause);
      });
  }

  program.command('ps').description('list the processes of a container')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (id: string, options: { format: 'table' | 'json' }) => {
      const { containerPids } = await import('../../container/lifecycle');
      const pids = containerPids(context().root, id);
      // json: a bare array of host pids, as containerd parses it.
      if (options.format === 'json') return writeOut(JSON.stringify(pids) + '\n');
      const { processTable } = await import('../../container/ps');
      writeOut(processTable(pids));
    });
}

export function registerInfoCommands(program: Command, context: () => Context): void {
  program.command('update').description('set new cgroup limits (LinuxResources JSON) on a container')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .requiredOption('-r, --resources <file>', 'the LinuxResources JSON: a file, or - for standard input')
    .action(async (id: string, options: { resources: string }) => {
      const fs = await import('node:fs');
      const source = options.resources === '-' ? 0 : options.resources;
      let resources: unknown;
      try {
        resources = JSON.parse(fs.readFileSync(source, 'utf8'));
      } catch (error) {
        throw new Error(`--resources ${options.resources}: ${(error as Error).message}`);
      }
      if (typeof resources !== 'object' || resources === null || Array.isArray(resources)) {
        throw new Error(`--resources ${options.resources}: not a JSON object of LinuxResources`);
      }
      const { updateContainer } = await import('../../container/lifecycle');
      updateContainer(context().root, id, resources as never);
    });

  program.command('features').description('print what this runtime supports (runtime-spec features JSON)')
    .action(async () => {
      const { features } = await import('../../oci/features');
      writeOut(JSON.stringify(features(), null, 2) + '\n');
    });
}

/** "5s", "500ms", "1m" or a plain number of seconds, in milliseconds. */
function interval(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (match === null || Number(match[1]) <= 0) throw new Error(`--interval: "${value}" is not a positive duration (e.g. 5s, 500ms)`);
  const n = Number(match[1]);
  return match[2] === 'ms' ? n : match[2] === 'm' ? n * 60_000 : n * 1000;
}

export function registerEventsCommand(program: Command, context: () => Context): void {
  program.command('events').description('print resource usage events of a container until it stops')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .option('--stats', 'print the current usage once and exit')
    .option('--interval <time>', 'how often to print usage (5s, 500ms)', interval, 5000)
    .action(async (id: string, options: { stats?: boolean; interval: number }) => {
      const { containerStats } = await import('../../container/lifecycle');
      const root = context().root;
      const event = () => {
        const { id: full, stats } = containerStats(root, id);
        return JSON.stringify({ type: 'stats', id: full, data: stats }) + '\n';
      };
      if (options.stats) return writeOut(event());
      // A stream, one line per interval, that ends when the container stops.
      for (;;) {
        let line: string;
        try {
          line = event();
        } catch (error) {
          if ((error as { code?: string }).code === 'ERR_INVALID_STATE') return;
          throw error;
        }
        writeOut(line);
        await new Promise((resolve) => setTimeout(resolve, options.interval));
      }
    });
}
