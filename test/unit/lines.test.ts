import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { lineReader } from '../../src/lines';

describe('lineReader', () => {
  it('returns lines one per call, across and within chunks, then undefined at the end', async () => {
    const stream = new PassThrough();
    const next = lineReader(stream);
    const first = next();
    stream.write('rea');
    stream.write('dy 12\nstarted\r\nerr');
    expect(await first).toBe('ready 12');
    expect(await next()).toBe('started');
    stream.end('or 1 2');
    expect(await next()).toBe('error 1 2');
    expect(await next()).toBeUndefined();
    expect(await next()).toBeUndefined();
  });

  it('rejects on a stream error once the lines before it are read', async () => {
    const stream = new PassThrough();
    const next = lineReader(stream);
    stream.write('one\n');
    expect(await next()).toBe('one');
    const pending = next();
    stream.destroy(new Error('broken pipe'));
    await expect(pending).rejects.toThrow('broken pipe');
  });
});
