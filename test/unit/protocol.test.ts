import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  formatAbort, formatCgroupPlaced, formatCommit, formatContinue, formatReport, formatStartGate, parseExitRecord, parseReport,
  ProtocolError, type Report,
} from '../../src/container/protocol';

describe('runcell-init reports', () => {
  const reports: [string, Report][] = [
    ['cgroup 42', { type: 'cgroup', pid: 42 }],
    ['hooks 7', { type: 'hooks', pid: 7 }],
    ['ready 1234', { type: 'ready', pid: 1234 }],
    ['started', { type: 'started' }],
    ['started 99', { type: 'started', pid: 99 }],
    ['error 3 13', { type: 'error', step: 3, errno: 13 }],
    ['error -1 22', { type: 'error', step: -1, errno: 22 }],
    ['error -2 1 555', { type: 'error', step: -2, errno: 1, child: 555 }],
  ];

  it.each(reports)('parses %j', (line, report) => {
    expect(parseReport(line)).toEqual(report);
  });

  it.each(reports)('formats %j back to the same line', (line, report) => {
    expect(formatReport(report)).toBe(line);
    expect(parseReport(formatReport(report))).toEqual(report);
  });

  it.each(['', 'ready', 'ready x', 'ready 12 ', 'error 1', 'error 1 -2', 'started 1 2', 'go 3', 'READY 1', 'ready 1\n'])(
    'refuses the malformed line %j, quoting it', (line) => {
      expect(() => parseReport(line)).toThrow(ProtocolError);
      expect(() => parseReport(line)).toThrow(JSON.stringify(line));
    });

  it('shortens a long malformed line in its error', () => {
    const line = 'x'.repeat(500);
    expect(() => parseReport(line)).toThrow(/malformed report: "x{80}\.\.\."$/);
  });
});

describe('the CLI messages', () => {
  it('end each message with one newline', () => {
    expect(formatCgroupPlaced()).toBe('cgroup\n');
    expect(formatAbort()).toBe('abort\n');
    expect(formatCommit()).toBe('commit\n');
    expect(formatContinue('{"pid":1}')).toBe('continue {"pid":1}\n');
    expect(formatStartGate('')).toBe('s\n');
    expect(formatStartGate('{"status":"created"}')).toBe('s{"status":"created"}\n');
    // The state for a seccomp agent follows a tab, which no JSON holds raw.
    expect(formatStartGate('', '{"pid":2}')).toBe('s\t{"pid":2}\n');
    expect(formatStartGate('{"pid":1}', '{"pid":2}')).toBe('s{"pid":1}\t{"pid":2}\n');
  });

  it('refuses a hook state that would split the line', () => {
    expect(() => formatContinue('{\n}')).toThrow(ProtocolError);
    expect(() => formatStartGate('a\nb')).toThrow(ProtocolError);
    expect(() => formatStartGate('a\tb')).toThrow(ProtocolError);
    expect(() => formatStartGate('', 'a\nb')).toThrow(ProtocolError);
  });
});

describe('the exit record', () => {
  it('reads what the gofer writes', () => {
    expect(parseExitRecord('{"exitStatus":137,"exited":"2026-01-02T03:04:05.678Z"}'))
      .toEqual({ exitStatus: 137, exited: '2026-01-02T03:04:05.678Z' });
  });

  it.each(['', '{', 'null', '{"exitStatus":"1","exited":"x"}', '{"exitStatus":1.5,"exited":"x"}', '{"exitStatus":1}'])(
    'refuses %j', (text) => {
      expect(() => parseExitRecord(text)).toThrow(ProtocolError);
    });
});

// native/init/protocol.h is the other half: what its formats print must parse here.
describe('the C side (native/init/protocol.h)', () => {
  const header = readFileSync(path.join(__dirname, '../../native/init/protocol.h'), 'utf8');
  const define = (name: string): string => {
    const match = new RegExp(`^#define ${name} "((?:[^"\\\\]|\\\\.)*)"`, 'm').exec(header);
    if (match === null) throw new Error(`protocol.h has no string ${name}`);
    return JSON.parse(`"${match[1]}"`) as string;
  };
  // printf with each %d replaced by the next value.
  const print = (format: string, ...values: number[]): string => format.replace(/%d/g, () => String(values.shift()));

  it.each([
    ['REPORT_CGROUP', [12], { type: 'cgroup', pid: 12 }],
    ['REPORT_HOOKS', [13], { type: 'hooks', pid: 13 }],
    ['REPORT_READY', [14], { type: 'ready', pid: 14 }],
    ['REPORT_ERROR', [-1, 22], { type: 'error', step: -1, errno: 22 }],
    ['REPORT_STARTED_PID', [15], { type: 'started', pid: 15 }],
    ['REPORT_ERROR_CHILD', [4, 2, 16], { type: 'error', step: 4, errno: 2, child: 16 }],
    ['REPLY_STARTED', [], { type: 'started' }],
  ] as [string, number[], Report][])('%s prints one line parseReport reads', (name, values, report) => {
    const line = print(define(name), ...values);
    expect(line.endsWith('\n')).toBe(true);
    expect(parseReport(line.slice(0, -1))).toEqual(report);
  });

  it('reads the CLI messages the formatters write', () => {
    expect(`${define('MSG_CGROUP_PLACED')}\n`).toBe(formatCgroupPlaced());
    expect(`${define('MSG_COMMIT')}\n`).toBe(formatCommit());
    expect(formatContinue('{}').startsWith(define('MSG_CONTINUE'))).toBe(true);
    expect(header).toMatch(/^#define GATE_START 's'$/m);
    expect(formatStartGate('{}').startsWith('s')).toBe(true);
  });

  it('writes the exit record parseExitRecord reads', () => {
    const text = define('EXIT_RECORD_FORMAT').replace('%d', '3').replace('%s', '2026-01-02T03:04:05').replace('%03ld', '007');
    expect(parseExitRecord(text)).toEqual({ exitStatus: 3, exited: '2026-01-02T03:04:05.007Z' });
  });
});
