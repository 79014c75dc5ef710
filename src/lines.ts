import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** Successive lines from a stream, one per call; undefined at its end. */
export function lineReader(stream: Readable): () => Promise<string | undefined> {
  const lines = createInterface({ input: stream })[Symbol.asyncIterator]();
  return async () => {
    const next = await lines.next();
    return next.done ? undefined : next.value;
  };
}
