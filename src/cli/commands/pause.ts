// pause, resume, ps: the commands that freeze, thaw or list the processes of a container's cgroup.
import { Option, type Command } from 'commander';
import type { Context } from '../context';
import { writeOut } from '../output';

export function register(program: Command, context: () => Context): void {
  for (const [name, pause] of [['pause', true], ['resume', false]] as const) {
    program.command(name).description(pause ? 'freeze every process of a container' : 'thaw a paused container')
      .argument('<id>', 'container id (or a unique prefix of one)')
      .action(async (id: string) => {
        const { pauseContainer } = await import('../../container/control');
        await pauseContainer(context().root, id, pause);
      });
  }

  program.command('ps').description('list the processes of a container: ps(1) with these arguments (default -ef), the container\'s lines')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .argument('[ps-args...]', 'arguments of ps(1), after the id (runcell ps ID aux, runcell ps ID -- -o pid,comm)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .passThroughOptions()
    .action(async (id: string, psArgs: string[], options: { format: 'table' | 'json' }) => {
      const { containerPids } = await import('../../container/control');
      const pids = containerPids(context().root, id);
      // json: a bare array of host pids, as containerd parses it.
      if (options.format === 'json') return writeOut(JSON.stringify(pids) + '\n');
      const { psTable } = await import('../../container/ps');
      writeOut(psTable(pids, psArgs));
    });
}
