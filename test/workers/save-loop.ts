// Test worker: read-modify-write saves of one container in a loop until killed. Each state
// holds a counter and a payload derived from it, so a torn or mixed file is detectable.
import { StateFile } from '../../src/container/state-file';

const [root, containerId, size] = process.argv.slice(2);
const file = new StateFile<{ counter: number; payload: string }>(root, { containerId, sandboxId: containerId });
let announced = false;
for (;;) {
  file.lock();
  const state = file.load();
  state.counter += 1;
  state.payload = String(state.counter % 10).repeat(Number(size));
  file.saveLocked(state);
  file.unlock();
  if (!announced) {
    process.stdout.write('saving\n');
    announced = true;
  }
}
