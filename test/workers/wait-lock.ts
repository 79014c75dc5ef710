// Test worker: says "waiting", blocks in lock() or lockForNew(), then reports what it got:
// "locked <state JSON or none>" or "error <code>".
import { StateFile } from '../../src/container/state-file';
import { ContainerError } from '../../src/container/errors';

const [root, containerId, how] = process.argv.slice(2);
const file = new StateFile<unknown>(root, { containerId, sandboxId: containerId });
process.stdout.write('waiting\n');
try {
  if (how === 'lockForNew') file.lockForNew();
  else file.lock();
  let state = 'none';
  try {
    state = JSON.stringify(file.load());
  } catch (error) {
    if (!(error instanceof ContainerError && error.code === 'ERR_CONTAINER_NOT_FOUND')) throw error;
  }
  process.stdout.write(`locked ${state}\n`);
  file.close();
} catch (error) {
  process.stdout.write(`error ${(error as ContainerError).code ?? (error as Error).message}\n`);
}
