// The stream of `runcell events`: a stats event at once and then every interval, an oom event
// whenever the kernel OOM-kills a process of the container (runc's {"type":"oom","id":...}),
// until the container stops.
import { isProcessAlive } from '../sys/process';
import { Cgroup, layoutOf } from './cgroups';
import { Container } from './container';
import { ContainerError } from './errors';
import { containerStats } from './lifecycle';
import { OOMWatcher, type Stats } from './stats';

export type ContainerEvent = { type: 'stats'; id: string; data: Stats } | { type: 'oom'; id: string };

/** The events of a running container; a container that is not running is an error at once. */
export async function* containerEvents(rootDir: string, partialId: string, options: { intervalMs: number }): AsyncGenerator<ContainerEvent> {
  const first = containerStats(rootDir, partialId);
  const { id } = first;
  const { record } = Container.load(rootDir, id);
  if (record.cgroupPath === undefined || record.init === null) {
    throw new ContainerError('ERR_INVALID_STATE', `container "${id}" has no cgroup to watch`, { containerId: id });
  }
  const init = record.init;
  const watcher = new OOMWatcher(new Cgroup(layoutOf(record.cgroupLayout), record.cgroupPath));
  let kills = watcher.count();
  try {
    yield { type: 'stats', id, data: first.stats };
    let nextStats = Date.now() + options.intervalMs;
    for (;;) {
      await watcher.changed(nextStats - Date.now());
      // Before looking whether it still runs: the kill that ended it is reported too.
      const now = watcher.count();
      if (now > kills) {
        kills = now;
        yield { type: 'oom', id };
      }
      if (!isProcessAlive(init.pid, init.startTime)) return;
      if (Date.now() < nextStats) continue;
      let stats: Stats;
      try {
        stats = containerStats(rootDir, id).stats;
      } catch (error) {
        if ((error as { code?: string }).code === 'ERR_INVALID_STATE') return; // stopped meanwhile
        throw error;
      }
      yield { type: 'stats', id, data: stats };
      nextStats = Date.now() + options.intervalMs;
    }
  } finally {
    watcher.close();
  }
}
