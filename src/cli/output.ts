// Output without process.stdout/stderr: touching those streams loads Node's net and stream
// modules (~2 ms of every command here). A plain write(2) to fd 1 or 2 does the job; only if
// the descriptor is a non-blocking pipe that is full (EAGAIN) does the rest go through the
// stream, which waits for the reader.
import * as fs from 'node:fs';

function writeFd(fd: 1 | 2, text: string): void {
  let data = Buffer.from(text);
  while (data.length > 0) {
    let written: number;
    try {
      written = fs.writeSync(fd, data);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      (fd === 1 ? process.stdout : process.stderr).write(data);
      return;
    }
    data = data.subarray(written);
  }
}

export const writeOut = (text: string): void => writeFd(1, text);
export const writeErr = (text: string): void => writeFd(2, text);
