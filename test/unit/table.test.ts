import { describe, expect, it } from 'vitest';
import { formatTable } from '../../src/format/table';

describe('formatTable (Go tabwriter as runc list uses it)', () => {
  it('pads columns to at least 12 and to the widest cell plus 3; the last column is not padded', () => {
    // Captured from `runc list` (runc 1.1.5) with these containers.
    const expected =
      'ID          PID         STATUS      BUNDLE             CREATED                          OWNER\n' +
      'a           4123        running     /tmp/b             2026-11-29T21:00:00.123456789Z   root\n' +
      'longer-id   0           stopped     /tmp/bundle-long   2026-11-29T21:00:01.1Z           #1000\n';
    expect(formatTable([
      ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
      ['a', '4123', 'running', '/tmp/b', '2026-11-29T21:00:00.123456789Z', 'root'],
      ['longer-id', '0', 'stopped', '/tmp/bundle-long', '2026-11-29T21:00:01.1Z', '#1000'],
    ])).toBe(expected);
  });

  it('prints only the header for no containers', () => {
    expect(formatTable([['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']]))
      .toBe('ID          PID         STATUS      BUNDLE      CREATED     OWNER\n');
  });
});
