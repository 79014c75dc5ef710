// Test worker: races lockForNew on one id. Prints "ready", waits for a line on stdin (the
// start barrier), then "won" or "exists".
import { StateFile } from '../../src/container/state-file';
import { ContainerError } from '../../src/container/errors';

const [root, containerId, tag] = process.argv.slice(2);
process.stdout.write('ready\n');
process.stdin.once('data', () => {
  const file = new StateFile<Record<string, unknown>>(root, { containerId, sandboxId: containerId });
  try {
    file.lockForNew();
    file.saveLocked({ owner: tag, step: 1 });
    const until = Date.now() + 20; // hold the lock a while so that the losers queue on it
    while (Date.now() < until);
    file.saveLocked({ owner: tag, step: 2 });
    file.close();
    process.stdout.write('won\n');
  } catch (error) {
    if (error instanceof ContainerError && error.code === 'ERR_CONTAINER_EXISTS') {
      process.stdout.write('exists\n');
    } else {
      process.stdout.write(`error ${(error as Error).message}\n`);
      process.exitCode = 2;
    }
  }
  process.stdin.destroy();
});
