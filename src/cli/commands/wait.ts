// wait: the container's exit status, as JSON.
import type { Command } from 'commander';
import type { Context } from '../context';
import { writeOut } from '../output';

export function register(program: Command, context: () => Context): void {
  program.command('wait').description('wait for a container to exit and print its exit status')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .action(async (id: string) => {
      const { waitContainer } = await import('../../container/lifecycle');
      writeOut(JSON.stringify(await waitContainer(context().root, id)) + '\n');
    });
}
