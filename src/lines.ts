import type { Readable } from 'node:stream';

/**
 * Successive lines from a stream, one per call; undefined at its end. (Not node:readline:
 * loading it costs `start` and `create` ~3 ms, for one or two lines of the gofer's protocol.)
 * A stream error rejects the pending and every later call.
 */
export function lineReader(stream: Readable): () => Promise<string | undefined> {
  const lines: string[] = [];
  let partial = '';
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line)));
    notify();
  });
  stream.once('end', () => {
    if (partial !== '') lines.push(partial);
    partial = '';
    ended = true;
    notify();
  });
  stream.once('close', () => {
    ended = true;
    notify();
  });
  stream.once('error', (error: Error) => {
    failure = error;
    notify();
  });
  return async () => {
    for (;;) {
      if (lines.length > 0) return lines.shift();
      if (failure !== undefined) throw failure;
      if (ended) return undefined;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
}
