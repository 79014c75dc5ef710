// kill: runc's flags, over one library call.
import type { Command } from 'commander';
import type { Context } from '../context';

export function register(program: Command, context: () => Context): void {
  program.command('kill').description('send a signal (default SIGTERM) to a container')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .argument('[signal]', 'signal name (with or without SIG) or number', 'SIGTERM')
    .option('-a, --all', 'signal every process of the container')
    .option('-s, --signal <signal>', 'the signal, as the OCI command line names it')
    .action(async (id: string, signal: string, options: { all?: boolean; signal?: string }) => {
      const { killContainer } = await import('../../container/control');
      await killContainer(context().root, id, options.signal ?? signal, { all: options.all === true });
    });
}
