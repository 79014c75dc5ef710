import type { Command } from 'commander';
import type { Context } from '../context';
import { writeOut } from '../output';

export function register(program: Command, context: () => Context): void {
  program
    .command('state')
    .description('print the OCI state of a container')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .action(async (id: string) => {
      const { containerState } = await import('../../container/read');
      // Indented by two spaces and without a trailing newline, as runc prints it.
      writeOut(JSON.stringify(containerState(context().root, id), null, 2));
    });
}
