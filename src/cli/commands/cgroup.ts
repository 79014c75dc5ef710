// update, events: the commands that set or read a container's cgroup limits and usage.
import { Option, type Command } from 'commander';
import type { Context } from '../context';
import { parseDuration } from '../duration';
import { writeOut } from '../output';
import type { ResourceFlags } from '../../container/resource-flags';

// runc's update flags (runc 1.1's names; --cpu-burst and --cpu-idle from runc 1.2).
const RESOURCE_FLAGS: Array<[string, string]> = [
  ['memory', 'memory limit in bytes (64m, 1g; -1: unlimited)'],
  ['memory-swap', 'memory and swap together (-1: unlimited swap)'],
  ['memory-reservation', 'memory soft limit'],
  ['kernel-memory', 'kernel memory limit (cgroup v1)'],
  ['kernel-memory-tcp', 'kernel TCP buffer limit (cgroup v1)'],
  ['cpu-share', 'CPU shares (relative weight)'],
  ['cpu-quota', 'CFS quota in microseconds per period (-1: none)'],
  ['cpu-period', 'CFS period in microseconds'],
  ['cpu-burst', 'CFS burst in microseconds'],
  ['cpu-idle', '1: SCHED_IDLE for the cgroup'],
  ['cpu-rt-period', 'realtime period in microseconds'],
  ['cpu-rt-runtime', 'realtime runtime in microseconds per period'],
  ['cpuset-cpus', 'CPUs to use (0-2,4)'],
  ['cpuset-mems', 'memory nodes to use'],
  ['pids-limit', 'maximum number of processes (-1: unlimited)'],
  ['blkio-weight', 'block IO weight (10 to 1000)'],
  ['l3-cache-schema', 'Intel RDT L3 cache schema (not supported: refused)'],
  ['mem-bw-schema', 'Intel RDT memory bandwidth schema (not supported: refused)'],
];

export function register(program: Command, context: () => Context): void {
  const update = program.command('update').description('set new cgroup limits on a container: LinuxResources JSON, or runc\'s flags')
    .argument('<id>', 'container id (or a unique prefix of one)')
    .option('-r, --resources <file>', 'the LinuxResources JSON: a file, or - for standard input (not with the flags below)');
  for (const [flag, description] of RESOURCE_FLAGS) update.option(`--${flag} <value>`, description);
  update.addOption(new Option('--cpu-shares <value>', 'the same as --cpu-share').hideHelp());
  update.action(async (id: string, options: { resources?: string; cpuShares?: string } & ResourceFlags) => {
    const { anyResourceFlag, resourcesFromFlags } = await import('../../container/resource-flags');
    const { cpuShares, resources: file, ...flags } = options;
    flags.cpuShare ??= cpuShares;
    let resources: unknown;
    if (file === undefined) {
      if (!anyResourceFlag(flags)) throw new Error('update: give --resources FILE|- or a limit to change (see --help)');
      resources = resourcesFromFlags(flags);
    } else {
      // runc ignores the flags beside --resources without a word; a limit asked for and not
      // set is refused here instead.
      if (anyResourceFlag(flags)) throw new Error('update: --resources cannot be combined with the flags of single limits');
      const fs = await import('node:fs');
      try {
        resources = JSON.parse(fs.readFileSync(file === '-' ? 0 : file, 'utf8'));
      } catch (error) {
        throw new Error(`--resources ${file}: ${(error as Error).message}`);
      }
      if (typeof resources !== 'object' || resources === null || Array.isArray(resources)) {
        throw new Error(`--resources ${file}: not a JSON object of LinuxResources`);
      }
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
