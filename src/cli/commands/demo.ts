import type { Command } from 'commander';
import type { Context } from '../context';

export function register(program: Command, context: () => Context): void {
  program
    .command('demo')
    .description('run a throwaway container built from the host\'s /usr, and show that it is isolated')
    .action(async () => {
      const { runDemo } = await import('../../demo');
      const ctx = context();
      ctx.exitStatus = await runDemo({ root: ctx.rootGiven ? ctx.root : undefined });
    });
}
