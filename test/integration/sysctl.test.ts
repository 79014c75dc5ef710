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

  // The write goes through the container's own procfs at /proc, never the host's, and never
  // through anything an image or a mount puts in its way (runc's CVE-2025-52881).
  describe('written through the container\'s own procfs only', () => {
    const ipForward = () => (hostValue('net.ipv4.ip_forward').trim() === '1' ? '0' : '1');

    async function refused(bundle: string, key: string, error: string) {
      const before = hostValue(key);
      const result = await runcell(['--root', root, 'run', '-b', bundle, ID]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`set sysctl net.ipv4.ip_forward: ${error}`);
      expect(hostValue(key)).toBe(before);
      expect(fs.existsSync(root) ? fs.readdirSync(root) : []).toEqual([]);
    }

    it('refuses an image whose /proc is a symlink, and writes nothing where it points', async () => {
      const bundle = bundleWith({ 'net.ipv4.ip_forward': ipForward() });
      fs.rmSync(path.join(bundle, 'rootfs/proc'), { recursive: true });
      fs.mkdirSync(path.join(bundle, 'rootfs/elsewhere'));
      fs.symlinkSync('/elsewhere', path.join(bundle, 'rootfs/proc'));
      await refused(bundle, 'net.ipv4.ip_forward', '"/proc/sys/net/ipv4/ip_forward" in the container is reached through a symlink (ELOOP)');
      expect(fs.readdirSync(path.join(bundle, 'rootfs/elsewhere'))).toEqual([]);
    });

    it('refuses a container without a procfs at /proc (runc fails too)', async () => {
      const bundle = bundleWith({ 'net.ipv4.ip_forward': ipForward() }, (spec) => {
        spec.mounts = spec.mounts.filter((m: { destination: string }) => m.destination !== '/proc');
        spec.linux.maskedPaths = [];
        spec.linux.readonlyPaths = [];
      });
      await refused(bundle, 'net.ipv4.ip_forward', 'there is no procfs at "/proc" in the container to write it through (config.mounts needs a "proc" mount there) (ENODEV)');
      if (commandExists('runc')) {
        expect((await run('runc', ['--root', path.join(dir, 'runc-root'), 'run', '-b', bundle, `runc-${ID}`])).code).not.toBe(0);
      }
    });

    it('refuses a host directory mounted over /proc/sys/net/ipv4, and leaves its files alone', async () => {
      const fake = path.join(dir, 'fake-ipv4');
      fs.mkdirSync(fake);
      fs.writeFileSync(path.join(fake, 'ip_forward'), 'untouched');
      const bundle = bundleWith({ 'net.ipv4.ip_forward': ipForward() }, (spec) => {
        spec.mounts.push({ destination: '/proc/sys/net/ipv4', type: 'bind', source: fake, options: ['rbind', 'rw'] });
      });
      await refused(bundle, 'net.ipv4.ip_forward', 'a mount over "/proc/sys/net/ipv4/ip_forward" or a directory above it (below "/proc") would redirect the write (EXDEV)');
      expect(fs.readFileSync(path.join(fake, 'ip_forward'), 'utf8')).toBe('untouched');
    });

    it('refuses a host sysctl of no namespace bound over the key\'s file: the host\'s value stays', async () => {
      // kernel.core_uses_pid is the host's, whoever writes it: a write that followed the bind
      // would change the host. Restored below should that ever happen.
      const hostKey = 'kernel.core_uses_pid';
      const before = hostValue(hostKey);
      const bundle = bundleWith({ 'net.ipv4.ip_forward': before.trim() === '1' ? '0' : '1' }, (spec) => {
        spec.mounts.push({ destination: '/proc/sys/net/ipv4/ip_forward', type: 'bind', source: '/proc/sys/kernel/core_uses_pid', options: ['bind', 'rw'] });
      });
      try {
        await refused(bundle, hostKey, 'a mount over "/proc/sys/net/ipv4/ip_forward" or a directory above it (below "/proc") would redirect the write (EXDEV)');
      } finally {
        if (hostValue(hostKey) !== before) fs.writeFileSync(`/proc/sys/${hostKey.replace(/\./g, '/')}`, before);
      }
    });
  });

  it('sets the keys of its own ipc, uts and network namespaces there, not on the host', async () => {
    const before = hostValue('net.ipv4.ip_forward');
    const wanted = before.trim() === '1' ? '0' : '1';
    const result = await runcell(['--root', root, 'run', '-b', bundleWith({ 'net.ipv4.ip_forward': wanted, 'kernel.shmmni': '1234' }), ID]);
    expect(result).toMatchObject({ code: 0, stdout: `${wanted}\n` });
    expect(hostValue('net.ipv4.ip_forward')).toBe(before);
  });
});
