// The containers a run works on: records of a realistic size (~2.5 KB, like a runsc state
// file), written through StateFile as create writes them.
import { StateFile } from '../container/state-file';
import { RECORD_VERSION, type ContainerRecord } from '../container/record';

export const COUNTER_ANNOTATION = 'runcell.bench/counter';

export function benchRecord(id: string, counter = 0): ContainerRecord {
  const annotations: Record<string, string> = { [COUNTER_ANNOTATION]: String(counter) };
  // Annotations as CRI sets them, to bring the record to the size of a real one.
  for (let i = 0; i < 24; i++) annotations[`io.kubernetes.cri.bench-${i}`] = `value-${i}-${'x'.repeat(64)}`;
  return {
    version: RECORD_VERSION,
    id,
    sandboxId: id,
    status: 'stopped',
    bundle: `/run/bench/bundles/${id}`,
    rootfs: `/run/bench/bundles/${id}/rootfs`,
    created: new Date().toISOString(),
    owner: 'root',
    annotations,
    init: null,
    gofer: null,
  };
}

export function createBenchContainer(root: string, id: string): void {
  const file = new StateFile<ContainerRecord>(root, { containerId: id, sandboxId: id });
  try {
    file.lockForNew();
    file.saveLocked(benchRecord(id));
  } finally {
    file.close();
  }
}
