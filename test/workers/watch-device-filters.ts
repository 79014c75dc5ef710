// Test worker: queries the device programs attached to the cgroup directory argv[2] as fast as
// it can, says "watching" once it has, and when its stdin closes prints how often it saw each
// number of programs ({"1": n, "2": m}).
import * as fs from 'node:fs';
import { BPF_CGROUP_DEVICE, bpfProgQuery } from '../../src/sys/bpf';

const fd = fs.openSync(process.argv[2], fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
const seen: Record<number, number> = {};
let stop = false;
process.stdin.on('data', () => {}).on('end', () => (stop = true));
let first = true;
(function loop() {
  for (let i = 0; i < 200; i++) {
    const n = bpfProgQuery(fd, BPF_CGROUP_DEVICE).ids.length;
    seen[n] = (seen[n] ?? 0) + 1;
  }
  if (first) process.stdout.write('watching\n');
  first = false;
  if (stop) process.stdout.write(JSON.stringify(seen) + '\n');
  else setImmediate(loop);
})();
