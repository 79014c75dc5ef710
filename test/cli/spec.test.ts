import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runcell, tempDir } from '../helpers/env';

let dir: string;
beforeEach(() => (dir = tempDir()));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('runcell spec', () => {
  it('writes runc\'s default config.json, tab-indented, into the bundle', async () => {
    const result = await runcell(['spec', '--bundle', dir]);
    expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const text = fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
    expect(text.split('\n')[1]).toBe('\t"ociVersion": "1.2.0",');
    const spec = JSON.parse(text);
    expect(spec.process).toMatchObject({ terminal: true, args: ['sh'], cwd: '/', noNewPrivileges: true, user: { uid: 0, gid: 0 } });
    expect(spec.root).toEqual({ path: 'rootfs', readonly: true });
    expect(spec.hostname).toBe('runcell');
    expect(spec.mounts.map((m: { destination: string }) => m.destination))
      .toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup']);
    expect(spec.linux.namespaces.map((n: { type: string }) => n.type)).toEqual(['pid', 'network', 'ipc', 'uts', 'mount']);
    expect(spec.linux.maskedPaths).toContain('/proc/kcore');
  });

  it('writes into the current directory by default and refuses to replace a config.json', async () => {
    expect((await runcell(['spec'], { cwd: dir })).code).toBe(0);
    fs.writeFileSync(path.join(dir, 'config.json'), 'mine');
    const again = await runcell(['spec'], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toBe("runcell: 'config.json' exists: remove it first\n");
    expect(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).toBe('mine');
  });

  it('--rootless maps root to the caller in a user namespace and drops the network namespace', async () => {
    expect((await runcell(['spec', '--rootless', '-b', dir])).code).toBe(0);
    const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(spec.linux.uidMappings).toEqual([{ containerID: 0, hostID: process.getuid!(), size: 1 }]);
    expect(spec.linux.namespaces.map((n: { type: string }) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'user']);
    expect(spec.linux.resources).toBeUndefined();
  });

  it('names a bundle directory that does not exist', async () => {
    const result = await runcell(['spec', '-b', path.join(dir, 'missing')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no such file or directory, open '${path.join(dir, 'missing', 'config.json')}'`);
  });
});
