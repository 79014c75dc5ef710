import type { Command } from 'commander';
import { writeOut } from '../output';

export function register(program: Command): void {
  program.command('features').description('print what this runtime supports (runtime-spec features JSON)')
    .action(async () => {
      const { features } = await import('../../oci/features');
      writeOut(JSON.stringify(features(), null, 2) + '\n');
    });
}
