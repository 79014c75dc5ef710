// exec: runc's flags (and conmon's --tty beside process.terminal); any failure exits 255, as
// with runc, so a caller tells it from the process's own status.
import type { Command } from 'commander';
import * as fs from 'node:fs';
import type { Context } from '../context';
import { ReportedFailure } from '../exit';
import { forwardSignals } from '../signals';

interface ExecFlags {
  detach?: boolean;
  pidFile?: string;
  process?: string;
  tty?: boolean;
  consoleSocket?: string;
  cwd?: string;
  env: string[];
  user?: string;
  cap: string[];
  /** false with --no-new-privs (commander's negatable flag). */
  newPrivs: boolean;
  additionalGids: number[];
  apparmor?: string;
  processLabel?: string;
  preserveFds: number;
  cgroup: string[];
  ignorePaused?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

const EXEC_FAILED = 255;

const number = (flag: string, max: number) => (value: string): number => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > max) throw new Error(`--${flag}: "${value}" is not a whole number up to ${max}`);
  return n;
};
const collectGid = (value: string, previous: number[]) => [...previous, number('additional-gids', 0xffffffff)(value)];

function parseUser(value: string): { uid: number; gid?: number } {
  const match = /^(\d+)(?::(\d+))?$/.exec(value);
  if (match === null) throw new Error(`--user: "${value}" is not uid[:gid] (numbers)`);
  const [uid, gid] = [Number(match[1]), match[2] === undefined ? undefined : Number(match[2])];
  if (uid > 0xffffffff || (gid ?? 0) > 0xffffffff) throw new Error(`--user: "${value}" is out of range`);
  return { uid, gid };
}

function readProcessFile(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`--process: cannot read "${file}": ${(error as Error).message}`);
  }
}

export function register(program: Command, context: () => Context): void {
  program.command('exec').description('run a process in a running container')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .argument('[command...]', 'the program and its arguments (with --process: optional)')
    .option('-d, --detach', 'return once the process runs')
    .option('--pid-file <file>', 'write the process\'s pid to this file')
    .option('-p, --process <file>', 'a process.json (OCI process object) to run')
    .option('-t, --tty', 'give the process a terminal (its master goes to --console-socket)')
    .option('--console-socket <path>', 'send the terminal\'s master to this unix socket')
    .option('--cwd <dir>', 'the working directory in the container')
    .option('-e, --env <KEY=value>', 'set an environment variable (repeatable)', collect, [])
    .option('-u, --user <uid[:gid]>', 'run as this user (and group)')
    .option('-g, --additional-gids <gid>', 'add a supplementary group (repeatable)', collectGid, [])
    .option('-c, --cap <capability>', 'add a capability (repeatable)', collect, [])
    .option('--no-new-privs', 'set no_new_privs for the process')
    .option('--apparmor <profile>', 'the AppArmor profile of the process')
    .option('--process-label <label>', 'the SELinux label of the process')
    .option('--preserve-fds <n>', 'pass descriptors 3..3+N-1 on to the process', number('preserve-fds', 1024), 0)
    .option('--cgroup <[controller:]path>', 'run in this existing sub-cgroup of the container\'s (repeatable per controller)', collect, [])
    .option('--ignore-paused', 'exec in a paused container too (the process runs once it is resumed)')
    .passThroughOptions()
    .action(async (id: string, command: string[], flags: ExecFlags) => {
      const ctx = context();
      try {
        const { execContainer } = await import('../../container/exec');
        const { callerTerminalSize, copyTerminal } = await import('../terminal');
        const { validateProcess } = await import('../../oci/spec');
        const exec = await execContainer(ctx.root, id, {
          args: command,
          process: flags.process === undefined ? undefined : validateProcess(readProcessFile(flags.process), flags.process),
          cwd: flags.cwd,
          env: flags.env,
          user: flags.user === undefined ? undefined : parseUser(flags.user),
          capabilities: flags.cap,
          noNewPrivileges: flags.newPrivs === false ? true : undefined,
          additionalGids: flags.additionalGids,
          apparmorProfile: flags.apparmor,
          selinuxLabel: flags.processLabel,
          preserveFds: flags.preserveFds,
          subCgroups: flags.cgroup,
          ignorePaused: flags.ignorePaused === true,
          tty: flags.tty,
          consoleSocket: flags.consoleSocket,
          receiveTerminal: flags.detach !== true,
          consoleSize: flags.detach !== true ? callerTerminalSize() : undefined,
          pidFile: flags.pidFile,
        });
        if (flags.detach) return;
        const terminal = exec.terminal === undefined ? undefined : copyTerminal(exec.terminal);
        const stopForwarding = forwardSignals((signal) => exec.signal(signal), terminal !== undefined);
        try {
          ctx.exitStatus = await exec.wait();
        } finally {
          stopForwarding();
          await terminal?.finish();
        }
      } catch (error) {
        ctx.log.error(error instanceof Error ? error.message : String(error));
        throw new ReportedFailure(EXEC_FAILED);
      }
    });
}
