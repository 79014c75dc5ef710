// Test worker: takes an exclusive flock on argv[2], says "locked" and holds it until killed.
import * as fs from 'node:fs';
import { flock, LOCK_EX } from '../../src/sys/flock';

const fd = fs.openSync(process.argv[2], 'r');
flock(fd, LOCK_EX);
process.stdout.write('locked\n');
setInterval(() => {}, 1 << 30);
