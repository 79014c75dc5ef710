// start: runc's command, over one library call.
import type { Command } from 'commander';
import type { Context } from '../context';

export function register(program: Command, context: () => Context): void {
  program.command('start').description('start the process of a created container')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .action(async (id: string) => {
      const { startContainer } = await import('../../container/start');
      await startContainer(context().root, id);
    });
}
