// linux.sysctl never reaches the host: a key of no namespace, or of a namespace the container
// does not have, is refused at create and the host's value stays; runc refuses the same configs.
// The keys of the container's own namespaces are set there, and only there.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandExists, run, runcell, useScratch } from '../helpers/env';
import { makeBundle, whyNoContainers } from '../helpers/bundle';

const skip = whyNoContainers();
let dir: string;
let root: string;
const ID = `sysctl${process.pid}`;
useScratch((d, r) => {
  dir = d;
  root = r;
});

const hostValue = (key: string) => fs.readFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8');

// The bundle's process prints the sysctl as it sees it.
function bundleWith(sysctl: Record<string, string>, edit: (spec: any) => void = () => {}): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  return makeBundle(path.join(dir, 'bundle'), ['sh', '-c', `cat /proc/sys/${Object.keys(sysctl)[0].replace(/\./g, '/')}`], (spec) => {
    spec.linux.sysctl = sysctl;
    edit(spec);
  });
}

describe.skipIf(skip !== null)(`linux.sysctl${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const refusals: Array<[string, Record<string, string>, (spec: any) => void, string]> = [ // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a key of no namespace (kernel.core_uses_pid)', { 'kernel.core_uses_pid': hostValue('kernel.core_uses_pid').trim() === '1' ? '0' : '1' }, () => {},
      '"kernel.core_uses_pid" is not in a separate kernel namespace'],
    ['net.* without a network namespace of its own', { 'net.ipv4.ip_forward': hostValue('net.ipv4.ip_forward').trim() === '1' ? '0' : '1' },
      (spec) => (spec.linux.namespaces = spec.linux.namespaces.filter((ns: { type: string }) => ns.type !== 'network')),
      '"net.ipv4.ip_forward" needs a network namespace of the container\'s own'],
  ];
  for (const [name, sysctl, edit, error] of refusals) {
    it(`refuses ${name} at create, naming it, and the host's value stays (as runc refuses it)`, async () => {
      const key = Object.keys(sysctl)[0];
      const before = hostValue(key);
      const bundle = bundleWith(sysctl, edit);
      const result = await runcell(['--root', root, 'run', '-b', bundle, ID]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(error);
      expect(hostValue(key)).toBe(before);
      expect(fs.existsSync(root) ? fs.readdirSync(root) : []).toEqual([]);
      if (commandExists('runc')) {
        const byRunc = await run('runc', ['--root', path.join(dir, 'runc-root'), 'run', '-b', bundle, `runc-${ID}`]);
        expect(byRunc.code).not.toBe(0);
        expect(hostValue(key)).toBe(before);
      }
    });
  }

  it('sets the keys of its own ipc, uts and network namespaces there, not on the host', async () => {
    const before = hostValue('net.ipv4.ip_forward');
    const wanted = before.trim() === '1' ? '0' : '1';
    const result = await runcell(['--root', root, 'run', '-b', bundleWith({ 'net.ipv4.ip_forward': wanted, 'kernel.shmmni': '1234' }), ID]);
    expect(result).toMatchObject({ code: 0, stdout: `${wanted}\n` });
    expect(hostValue('net.ipv4.ip_forward')).toBe(before);
  });
});
