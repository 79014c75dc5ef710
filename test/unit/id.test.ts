import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { baseName, ContainerError, MAX_ID_LENGTH, parseFileName, validateId } from '../../src';

describe('container ids', () => {
  it('accepts letters, digits, _ + - .', () => {
    for (const id of ['a', 'A9', 'pod_1', 'x+y', 'a-b.c', '...a', '0123456789abcdef'.repeat(4)]) {
      expect(validateId(id)).toBe(id);
    }
  });

  it('rejects anything else, naming the id and the rule', () => {
    for (const id of ['', 'a/b', '../x', 'a:b', 'a b', 'é', '*', 'a?', '.', '..', 'x'.repeat(MAX_ID_LENGTH + 1)]) {
      expect(() => validateId(id)).toThrow(ContainerError);
      try {
        validateId(id);
      } catch (error) {
        expect((error as ContainerError).code).toBe('ERR_INVALID_ID');
        expect((error as ContainerError).message).toContain('invalid container id');
      }
    }
    expect(() => validateId(undefined)).toThrow(/empty/);
    expect(() => validateId('a/b')).toThrow('invalid container id "a/b": only letters, digits');
  });

  it('round-trips through file names, and "_sandbox:" cannot be forged', () => {
    const idArb = fc.stringMatching(/^[\w+\-.]{1,40}$/).filter((s) => s !== '.' && s !== '..');
    fc.assert(fc.property(idArb, idArb, fc.constantFrom('state', 'lock', 'tmp', 'exit'), (cid, sid, ext) => {
      const name = `${baseName({ containerId: cid, sandboxId: sid })}.${ext}`;
      expect(parseFileName(name)).toEqual({ containerId: cid, sandboxId: sid, ext });
    }));
    expect(parseFileName('a_sandbox:b_sandbox:c.state')).toBeNull();
    expect(parseFileName('a.state')).toBeNull();
    // Ids may contain dots; the extension is the last segment, so this is sandbox "b.state".
    expect(parseFileName('a_sandbox:b.state.tmp')).toEqual({ containerId: 'a', sandboxId: 'b.state', ext: 'tmp' });
    expect(parseFileName('a_sandbox:b.STATE')).toBeNull();
  });

  it('keeps the longest file name within NAME_MAX', () => {
    const longest = 'x'.repeat(MAX_ID_LENGTH);
    expect(Buffer.byteLength(`${baseName({ containerId: longest, sandboxId: longest })}.state`)).toBeLessThanOrEqual(255);
  });
});
