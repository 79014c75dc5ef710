import { describe, expect, it } from 'vitest';
import { runcell } from '../helpers/env';

describe('runcell features', () => {
  it('prints the runtime-spec features JSON with the required fields', async () => {
    const result = await runcell(['features']);
    expect(result.code).toBe(0);
    const features = JSON.parse(result.stdout);
    expect(features.ociVersionMin).toBe('1.0.0');
    expect(features.ociVersionMax).toBe('1.2.0');
    expect(features.linux.namespaces).toContain('user');
    expect(features.linux.seccomp.actions).toContain('SCMP_ACT_ERRNO');
    expect(features.linux.cgroup).toMatchObject({ v1: true, v2: true });
  });
});
