import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrnoError, setOOMScoreAdj } from '../../src';
import { hasCapSysResource, startSleeper } from '../helpers/env';

const children: ReturnType<typeof startSleeper>[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

function sleeper(): number {
  const child = startSleeper();
  children.push(child);
  return child.pid!;
}

const score = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8'));

describe('setOOMScoreAdj', () => {
  it('writes the score and returns true', () => {
    const pid = sleeper();
    expect(setOOMScoreAdj(pid, 500)).toBe(true);
    expect(score(pid)).toBe(500);
    // Lowering is allowed down to the process's minimum (0 here), even without CAP_SYS_RESOURCE.
    expect(setOOMScoreAdj(pid, 100)).toBe(true);
    expect(score(pid)).toBe(100);
  });

  it('returns false when the process is gone (ENOENT on open)', () => {
    expect(setOOMScoreAdj(4194304 + 7, 100)).toBe(false);
  });

  it('throws EINVAL outside -1000..1000, naming the file', () => {
    const pid = sleeper();
    let caught: unknown;
    try {
      setOOMScoreAdj(pid, 1001);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ErrnoError);
    expect(caught).toMatchObject({ code: 'EINVAL', errno: -22, syscall: 'write', path: `/proc/${pid}/oom_score_adj` });
    expect(score(pid)).toBe(0);
  });

  it.skipIf(hasCapSysResource())('throws EACCES when lowering below the minimum without CAP_SYS_RESOURCE', () => {
    const pid = sleeper();
    expect(() => setOOMScoreAdj(pid, -5)).toThrow(expect.objectContaining({
      code: 'EACCES', syscall: 'write', path: `/proc/${pid}/oom_score_adj`,
      message: `EACCES: permission denied, write '/proc/${pid}/oom_score_adj'`,
    }));
    expect(score(pid)).toBe(0);
  });

  it('rejects non-integers before any system call', () => {
    expect(() => setOOMScoreAdj(sleeper(), 1.5)).toThrow(RangeError);
    expect(() => setOOMScoreAdj('1' as unknown as number, 1)).toThrow(TypeError);
  });
});
