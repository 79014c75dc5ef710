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
  });

  it('refuses a hook state that would split the line', () => {
    expect(() => formatContinue('{\n}')).toThrow(ProtocolError);
    expect(() => formatStartGate('a\nb')).toThrow(ProtocolError);
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
