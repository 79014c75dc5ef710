// Reading containers' records, without the lifecycle: what `state` and `list` need, and all
// they load (the CLI bundles these verbs apart from container.ts and its cgroup, systemd and
// sandbox modules: start-up cost, issue 13). Container.load and Container.list are these.
import { log } from '../log';
import { ContainerError } from './errors';
import type { FullId } from './id';
import { ociState, validateRecord, type ContainerRecord, type OciState } from './record';
import { StateFile } from './state-file';

/** Records of a root directory: the readable ones, and the damaged ones by name. */
export interface RecordList {
  records: ContainerRecord[];
  damaged: Array<{ id: FullId; error: Error }>;
}

/** The record of a container by id or unique id prefix, read under its shared lock. */
export function loadRecord(rootDir: string, partialId: string): ContainerRecord {
  const id = StateFile.resolve(rootDir, partialId);
  const stateFile = new StateFile<unknown>(rootDir, id);
  try {
    return validateRecord(stateFile.load(), id, stateFile.statePath);
  } finally {
    stateFile.close();
  }
}

/**
 * Every record of the root directory, sorted by id; damaged ones are reported apart. A
 * snapshot: each state is read without its lock (see StateFile.peek).
 */
export function listRecords(rootDir: string): RecordList {
  const result: RecordList = { records: [], damaged: [] };
  for (const id of StateFile.list(rootDir)) {
    const stateFile = new StateFile<unknown>(rootDir, id);
    try {
      result.records.push(validateRecord(stateFile.peek(), id, stateFile.statePath));
    } catch (error) {
      // Destroyed between the directory listing and the load: simply no longer there.
      if (error instanceof ContainerError && error.code === 'ERR_CONTAINER_NOT_FOUND') continue;
      if (!(error instanceof Error)) throw error;
      log.debug(`skipping container "${id.containerId}" of sandbox "${id.sandboxId}": ${error.message}`);
      result.damaged.push({ id, error });
    } finally {
      stateFile.close();
    }
  }
  result.records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return result;
}

/** The OCI state of a container by id or unique id prefix (what `runcell state` prints). */
export function containerState(rootDir: string, partialId: string): OciState {
  return ociState(loadRecord(rootDir, partialId));
}

/** The OCI states of every readable container of the root directory, sorted by id. */
export function containerStates(rootDir: string): OciState[] {
  return listRecords(rootDir).records.map((record) => ociState(record));
}
