// Container records as the create path writes them, for tests of the layers above it.
import * as path from 'node:path';
import { RECORD_VERSION, StateFile, type ContainerRecord, type FullId } from '../../src';

export function makeRecord(id: string, overrides: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    version: RECORD_VERSION,
    id,
    sandboxId: id,
    status: 'stopped',
    bundle: `/bundles/${id}`,
    rootfs: `/bundles/${id}/rootfs`,
    created: '2026-11-29T21:00:00.000Z',
    owner: 'root',
    annotations: {},
    init: null,
    gofer: null,
    ...overrides,
  };
}

/** Writes a container's state the way create does: lockForNew, saveLocked, unlock. */
export function writeContainer(root: string, record: ContainerRecord): FullId {
  const id = { containerId: record.id, sandboxId: record.sandboxId };
  const stateFile = new StateFile<ContainerRecord>(root, id);
  stateFile.lockForNew();
  stateFile.saveLocked(record);
  stateFile.close();
  return id;
}

export function statePath(root: string, id: FullId): string {
  return path.join(root, `${id.containerId}_sandbox:${id.sandboxId}.state`);
}
