import * as fs from 'node:fs';
import * as os from 'node:os';
import { describe, expect, it } from 'vitest';
import { runcell } from '../helpers/env';
import { whyNoContainers } from '../helpers/bundle';

const skip = whyNoContainers();

describe.skipIf(skip !== null)(`runcell demo${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('runs a real, isolated container from nothing and leaves nothing behind', async () => {
    const before = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('runcell-demo-'));
    const result = await runcell(['demo']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('I am process 1 of my pid namespace.');
    expect(result.stdout).toContain('My hostname is runcell-demo');
    expect(result.stdout).toMatch(/My network interfaces: lo \n/);
    expect(result.stdout).toContain("The host's /usr is read-only to me.");
    expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('runcell-demo-'))).toEqual(before);
  });
});
