import * as fs from 'node:fs';
import { Option, type Command } from 'commander';
import type { Context } from '../context';
import { writeOut } from '../output';

export function register(program: Command, context: () => Context): void {
  program
    .command('list')
    .description('list the containers of the root directory')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .option('-q, --quiet', 'print only the container ids')
    .action(async (options: { format: 'table' | 'json'; quiet?: boolean }) => {
      const { root, rootGiven } = context();
      // As runc: a missing default root is an empty list, a missing --root is a mistake.
      if (rootGiven && !fs.existsSync(root)) throw new Error(`root directory '${root}' does not exist`);
      const { containerStates, listRecords } = await import('../../container/read');
      if (options.quiet) {
        writeOut(listRecords(root).records.map((r) => r.id + '\n').join(''));
        return;
      }
      const states = containerStates(root);
      if (options.format === 'json') {
        // runc encodes a nil slice: an empty list is `null`.
        writeOut(JSON.stringify(states.length > 0 ? states : null) + '\n');
        return;
      }
      const { formatTable } = await import('../../format/table');
      const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
      for (const s of states) rows.push([s.id, String(s.pid), s.status, s.bundle, s.created, s.owner]);
      writeOut(formatTable(rows));
    });
}
