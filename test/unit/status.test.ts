import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALL_STATUSES, canTransition, ContainerError, requireStatus, Status, transition, type Status as S } from '../../src';

// The runsc table (runsc.md, section A), with paused -> stopped left out: a paused container
// is thawed first.
const LEGAL: Array<[S, S]> = [
  ['creating', 'created'],
  ['created', 'running'],
  ['paused', 'running'],
  ['running', 'paused'],
  ['creating', 'stopped'],
  ['created', 'stopped'],
  ['running', 'stopped'],
  ['stopped', 'stopped'],
];

describe('status machine', () => {
  it('allows exactly the legal transitions', () => {
    const status = fc.constantFrom(...ALL_STATUSES);
    fc.assert(fc.property(status, status, (from, to) => {
      const legal = LEGAL.some(([f, t]) => f === from && t === to);
      expect(canTransition(from, to)).toBe(legal);
      if (legal) {
        expect(transition(from, to)).toBe(to);
      } else {
        expect(() => transition(from, to)).toThrow(`invalid state transition from ${from} to ${to}`);
      }
    }), { numRuns: 200 });
  });

  it('never enters creating, and an illegal transition is ERR_INVALID_TRANSITION', () => {
    for (const from of ALL_STATUSES) expect(canTransition(from, Status.Creating)).toBe(false);
    try {
      transition('paused', 'created');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ContainerError);
      expect((error as ContainerError).code).toBe('ERR_INVALID_TRANSITION');
    }
  });

  it('requireStatus names the action, the container and the status', () => {
    expect(() => requireStatus('start', 'x', 'created', 'created')).not.toThrow();
    expect(() => requireStatus('start', 'x', 'running', 'created')).toThrow('cannot start container "x" in state running');
    try {
      requireStatus('delete', 'web', 'paused', 'created', 'stopped');
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_INVALID_STATE', containerId: 'web' });
    }
  });
});
