import { StateFile } from './state-file';

/** The full container id a user-given id or prefix names. */
export function resolveId(rootDir: string, partialId: string): string {
  return StateFile.resolve(rootDir, partialId).containerId;
}
