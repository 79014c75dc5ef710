// checkpoint, restore: runc's commands and flags, over CRIU (container/checkpoint.ts, restore.ts).
import * as path from 'node:path';
import type { Command } from 'commander';
import type { CriuFlags } from '../../container/checkpoint';
import type { Context } from '../context';
import { forwardSignals } from '../signals';

// The flags commander parses: the library's (container/checkpoint.ts), but --criu is global and
// --image-path has a default only here.
type CriuCliFlags = Omit<CriuFlags, 'criu'> & { imagePath?: string; emptyNs: string[]; autoDedup?: boolean };

const collect = (value: string, previous: string[]) => [...previous, value];

function criuFlags(command: Command): Command {
  return command
    .option('--image-path <dir>', 'the directory of the CRIU images (default: ./checkpoint)')
    .option('--work-path <dir>', 'the directory of CRIU\'s log and work files (default: the image directory)')
    .option('--tcp-established', 'allow open TCP connections')
    .option('--ext-unix-sk', 'allow external unix sockets')
    .option('--shell-job', 'allow shell jobs')
    .option('--file-locks', 'handle file locks')
    .option('--manage-cgroups-mode <mode>', 'cgroups mode: soft, full, strict or ignore')
    .option('--empty-ns <namespace>', 'leave this namespace out of the image (only "network")', collect, [])
    .option('--auto-dedup', 'free the parent\'s pages that this image duplicates')
    .option('--lazy-pages', 'refused: runcell runs no page server');
}

// runc's flags that runcell refuses by name rather than ignore.
function refused(command: Command, flags: Array<[string, string]>): Command {
  for (const [flag, why] of flags) command.option(flag, `refused: ${why}`);
  return command;
}

function refuseGiven(options: Record<string, unknown>, flags: Array<[string, string]>): void {
  for (const [flag, why] of flags) {
    const name = flag.replace(/^--/, '').split(' ')[0].replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (options[name] !== undefined) throw new Error(`${flag.split(' ')[0]} is not supported: ${why}`);
  }
}

const CHECKPOINT_REFUSED: Array<[string, string]> = [
  ['--pre-dump', 'dirty-memory tracking (pre-dump) is not implemented'],
  ['--page-server <address:port>', 'runcell runs no CRIU page server'],
  ['--status-fd <fd>', 'not implemented'],
];
const RESTORE_REFUSED: Array<[string, string]> = [
  ['--lsm-profile <type:label>', 'not implemented'],
  ['--lsm-mount-context <context>', 'not implemented'],
];

export function register(program: Command, context: () => Context): void {
  refused(criuFlags(program.command('checkpoint').description('checkpoint a running container with CRIU')
    .argument('<id>', 'container id (or a unique prefix of one)'))
    .option('--parent-path <dir>', 'the images of a previous pre-dump, relative to the image path')
    .option('--leave-running', 'leave the container running after the checkpoint'), CHECKPOINT_REFUSED)
    .action(async (id: string, options: CriuCliFlags & { parentPath?: string; leaveRunning?: boolean }) => {
      refuseGiven(options as unknown as Record<string, unknown>, CHECKPOINT_REFUSED);
      const { checkpointContainer } = await import('../../container/checkpoint');
      await checkpointContainer(context().root, id, {
        ...libraryFlags(options, context()),
        parentPath: options.parentPath,
        leaveRunning: options.leaveRunning,
        emptyNs: options.emptyNs,
        autoDedup: options.autoDedup,
      });
    });

  refused(criuFlags(program.command('restore').description('restore a container from a checkpoint')
    .argument('<id>', 'the restored container\'s id'))
    .option('-b, --bundle <dir>', 'the bundle directory', '.')
    .option('-d, --detach', 'return once the container runs')
    .option('--pid-file <file>', 'write the container\'s pid to this file')
    .option('--console-socket <path>', 'for a checkpoint with a terminal: the unix socket its new master (SCM_RIGHTS) is sent to')
    .option('--no-pivot', 'accepted for compatibility (CRIU sets up the restored root itself)')
    // As with run: a restored container's orphans go to its own pid 1, never to the CLI.
    .option('--no-subreaper', 'accepted for compatibility (runcell never makes itself a subreaper)'), RESTORE_REFUSED)
    .action(async (id: string, options: CriuCliFlags & { bundle: string; detach?: boolean; pidFile?: string; consoleSocket?: string }) => {
      refuseGiven(options as unknown as Record<string, unknown>, RESTORE_REFUSED);
      if (options.emptyNs.length > 0) throw new Error('--empty-ns: on restore, the namespace comes from the config (runc needs it only for checkpoint)');
      if (options.autoDedup) throw new Error('--auto-dedup is a checkpoint flag');
      const { restoreContainer } = await import('../../container/restore');
      const root = context().root;
      await restoreContainer(root, id, {
        ...libraryFlags(options, context()),
        bundle: options.bundle, pidFile: options.pidFile, consoleSocket: options.consoleSocket, systemdCgroup: context().systemdCgroup,
      });
      if (options.detach) return;
      // In the foreground, as `run`: stand for the container until it exits, then delete it.
      const { killContainer, waitContainer } = await import('../../container/lifecycle');
      const { Container } = await import('../../container/container');
      const stopForwarding = forwardSignals((signal) => {
        killContainer(root, id, signal).catch(() => {});
      });
      try {
        context().exitStatus = (await waitContainer(root, id)).exitStatus;
      } finally {
        stopForwarding();
      }
      await Container.delete(root, id, { force: true });
    });
}

function libraryFlags(options: CriuCliFlags, context: Context) {
  return {
    criu: context.criu,
    imagePath: path.resolve(options.imagePath ?? 'checkpoint'),
    workPath: options.workPath === undefined ? undefined : path.resolve(options.workPath),
    tcpEstablished: options.tcpEstablished,
    extUnixSk: options.extUnixSk,
    shellJob: options.shellJob,
    fileLocks: options.fileLocks,
    manageCgroupsMode: options.manageCgroupsMode,
    lazyPages: options.lazyPages,
  };
}
