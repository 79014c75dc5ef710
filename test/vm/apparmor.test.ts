// process.apparmorProfile where AppArmor is enabled (the test VM: Debian 12): the container's
// process, and a process exec'd into it, run under the profile, as under runc; a profile that
// is not loaded fails create with the profile named, and leaves nothing. Runs only in the VM
// (RUNCELL_VM=1, set by test/vm/run); elsewhere it is skipped, saying so. On a host without
// AppArmor, test/integration/config-fields.test.ts checks the refusal.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { commandExists, run, runcell, startSleeper, useScratchContainer } from '../helpers/env';
import { makeBundle } from '../helpers/bundle';
import { appArmorEnabled } from '../../src/container/lsm';

const inVM = process.env.RUNCELL_VM === '1';
const VM_TIMEOUT_MS = 300_000;
const PROFILE = 'runcell-test';

let dir: string;
let root: string;
let id: string;
useScratchContainer('aa', (d, r, i) => ([dir, root, id] = [d, r, i])); // ids unique: cgroups are host-wide
const rc = (...args: string[]) => runcell(['--root', root, ...args]);

const skip = !inVM ? 'runs in the test VM only, npm run test:vm' : !commandExists('apparmor_parser') ? 'needs apparmor_parser' : null;

describe.skipIf(skip !== null)(`AppArmor profiles${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    expect(appArmorEnabled()).toBe(true);
    // A small profile of our own: enough for busybox to run, and its name to read back.
    const file = path.join(fs.mkdtempSync('/tmp/runcell-aa-'), PROFILE);
    fs.writeFileSync(file, `profile ${PROFILE} flags=(attach_disconnected,mediate_deleted) {\n`
      + '  file,\n  capability,\n  network,\n  signal,\n  ptrace,\n  unix,\n  mount,\n  umount,\n  pivot_root,\n}\n');
    const loaded = await run('apparmor_parser', ['-r', '-W', file]);
    expect(loaded).toMatchObject({ code: 0 });
    expect(fs.readFileSync('/sys/kernel/security/apparmor/profiles', 'utf8')).toContain(`${PROFILE} (enforce)`);
  }, VM_TIMEOUT_MS);

  const confined = (args: string[], profile = PROFILE) => makeBundle(path.join(dir, 'bundle'), args, (spec) => {
    spec.process.apparmorProfile = profile;
  });

  it('the process runs under the profile, as under runc', async () => {
    const bundle = confined(['cat', '/proc/self/attr/current']);
    expect(await rc('run', '-b', bundle, id)).toMatchObject({ code: 0, stdout: `${PROFILE} (enforce)\n` });
    const runc = await run('runc', ['--root', path.join(dir, 'runc'), 'run', '-b', bundle, `${id}-runc`]);
    expect(runc).toMatchObject({ code: 0, stdout: `${PROFILE} (enforce)\n` });
  }, VM_TIMEOUT_MS);

  it('a process exec\'d into the container runs under the container\'s profile', async () => {
    const bundle = confined(['sleep', '1000']);
    expect(await rc('run', '-d', '-b', bundle, id)).toMatchObject({ code: 0 });
    expect(await rc('exec', id, 'cat', '/proc/self/attr/current')).toMatchObject({ code: 0, stdout: `${PROFILE} (enforce)\n` });
    // Also with a process.json that names no profile.
    const processFile = path.join(dir, 'process.json');
    fs.writeFileSync(processFile, JSON.stringify({ cwd: '/', user: { uid: 0, gid: 0 }, args: ['cat', '/proc/self/attr/current'] }));
    expect(await rc('exec', '--process', processFile, id)).toMatchObject({ code: 0, stdout: `${PROFILE} (enforce)\n` });
  }, VM_TIMEOUT_MS);

  it('without apparmorProfile the process is unconfined', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['cat', '/proc/self/attr/current']);
    expect(await rc('run', '-b', bundle, id)).toMatchObject({ code: 0, stdout: 'unconfined\n' });
  }, VM_TIMEOUT_MS);

  it('a file bound over the exec attribute does not take the profile: create fails, the file is untouched', async () => {
    // The write must reach the procfs's own file: a file mounted over it would take the label
    // and the process would run unconfined (runc's CVE-2019-16884, CVE-2025-52881).
    const decoy = path.join(dir, 'decoy');
    fs.writeFileSync(decoy, 'untouched\n');
    const attr = fs.existsSync('/proc/self/attr/apparmor/exec') ? 'attr/apparmor/exec' : 'attr/exec';
    const bundle = makeBundle(path.join(dir, 'bundle'), ['true'], (spec) => {
      spec.process.apparmorProfile = PROFILE;
      // The user's process is pid 1 of the procfs it mounts.
      spec.mounts.push({ destination: `/proc/1/${attr}`, type: 'bind', source: decoy, options: ['bind', 'rw'] });
    });
    const result = await rc('create', '-b', bundle, id);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`set the AppArmor profile "${PROFILE}": "/proc/self/${attr}" is not the procfs's own file`);
    expect(fs.readFileSync(decoy, 'utf8')).toBe('untouched\n');
    expect((await rc('list', '-q')).stdout).toBe('');
  }, VM_TIMEOUT_MS);

  it('nor does another procfs file bound over it (another process\'s comm): create fails, the file is untouched', async () => {
    // A procfs file passes a check of the filesystem's type (runc 1.1's); the write must still
    // not reach it (runc's CVE-2025-52881).
    const sleeper = startSleeper();
    try {
      const comm = `/proc/${sleeper.pid}/comm`;
      const attr = fs.existsSync('/proc/self/attr/apparmor/exec') ? 'attr/apparmor/exec' : 'attr/exec';
      const bundle = makeBundle(path.join(dir, 'bundle'), ['true'], (spec) => {
        spec.process.apparmorProfile = PROFILE;
        spec.mounts.push({ destination: `/proc/1/${attr}`, type: 'bind', source: comm, options: ['bind', 'rw'] });
      });
      const result = await rc('create', '-b', bundle, id);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('is not the procfs\'s own file');
      expect(fs.readFileSync(comm, 'utf8')).toBe('sleep\n');
    } finally {
      sleeper.kill('SIGKILL');
    }
  }, VM_TIMEOUT_MS);

  it('a profile that is not loaded fails create, naming it, and leaves nothing', async () => {
    const bundle = confined(['true'], 'runcell-no-such-profile');
    const result = await rc('create', '-b', bundle, id);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('set the AppArmor profile "runcell-no-such-profile"');
    expect((await rc('list', '-q')).stdout).toBe('');
  }, VM_TIMEOUT_MS);
});
