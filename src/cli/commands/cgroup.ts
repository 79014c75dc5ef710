// pause, resume, ps, update, events: the commands that act on a container's cgroup.
import { Option, type Command } from 'commander';
import type { Context } from '../context';
import { parseDuration } from '../duration';
import { writeOut } from '../output';

export function register(program: Command, context: () => Context): void {
  for (const [name, pause] of [['pause', true], ['resume', false]] as const) {
    program.command(name).description(pause ? 'freeze every process of a container' : 'thaw a paused container')
      .argument('<id>', 'container id (or a unique prefix of one)')
      .action(async (id: string) => {
        const { pauseContainer } = await import('../../container/lifecycle');
        await pauseContainer(context().root, id, pause);
      });
  }

  program.command('ps').description('list the processes of a container')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (id: string, options: { format: 'table' | 'json' }) => {
      const { containerPids } = await import('../../container/lifecycle');
      const pids = containerPids(context().root, id);
      // json: a bare array of host pids, as containerd parses it.
      if (options.format === 'json') return writeOut(JSON.stringify(pids) + '\n');
      const { processTable } = await import('../../container/ps');
      writeOut(processTable(pids));
    });

  program.command('update').description('set new cgroup limits (LinuxResources JSON) on a container')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .requiredOption('-r, --resources <file>', 'the LinuxResources JSON: a file, or - for standard input')
    .action(async (id: string, options: { resources: string }) => {
      const fs = await import('node:fs');
      const source = options.resources === '-' ? 0 : options.resources;
      let resources: unknown;
      try {
        resources = JSON.parse(fs.readFileSync(source, 'utf8'));
      } catch (error) {
        throw new Error(`--resources ${options.resources}: ${(error as Error).message}`);
      }
      if (typeof resources !== 'object' || resources === null || Array.isArray(resources)) {
        throw new Error(`--resources ${options.resources}: not a JSON object of LinuxResources`);
      }
      const { updateContainer } = await import('../../container/lifecycle');
      await updateContainer(context().root, id, resources as never);
    });

  program.command('events').description('print resource usage events of a container until it stops')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .option('--stats', 'print the current usage once and exit')
    .option('--interval <time>', 'how often to print usage (5s, 500ms)', (v: string) => parseDuration('--interval', v) * 1000, 5000)
    .action(async (id: string, options: { stats?: boolean; interval: number }) => {
      const { eventJson } = await import('../../container/stats');
      if (options.stats) {
        const { containerStats } = await import('../../container/lifecycle');
        const { id: full, stats } = containerStats(context().root, id);
        return writeOut(eventJson({ type: 'stats', id: full, data: stats }) + '\n');
      }
      const { containerEvents } = await import('../../container/events');
      for await (const event of containerEvents(context().root, id, { intervalMs: options.interval })) writeOut(eventJson(event) + '\n');
    });
}
