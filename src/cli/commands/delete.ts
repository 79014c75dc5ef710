import type { Command } from 'commander';
import type { Context } from '../context';
import { ReportedFailure } from '../exit';

export function register(program: Command, context: () => Context): void {
  program
    .command('delete')
    .description('delete containers and everything they hold')
    .argument('<id...>', 'container ids (or unique prefixes)')
    .option('-f, --force', 'kill what still runs, remove damaged state, and accept unknown ids')
    .action(async (ids: string[], options: { force?: boolean }) => {
      const { Container } = await import('../../container/container');
      const { root, log } = context();
      // Each id is deleted on its own: one that fails does not stop the others (runsc returns
      // after the first missing one).
      let failed = false;
      for (const id of ids) {
        try {
          await Container.delete(root, id, { force: options.force === true });
        } catch (error) {
          log.error(error instanceof Error ? error.message : String(error));
          failed = true;
        }
      }
      if (failed) throw new ReportedFailure();
    });
}
