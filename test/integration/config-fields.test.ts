// Config fields that used to pass create and then fail at start, or be dropped: each is now
// refused at create with the field named, leaving no container, or applied. Real containers.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasCapSysResource, runcell, useScratch } from '../helpers/env';
import { makeBundle, whyNoContainers } from '../helpers/bundle';
import { appArmorEnabled } from '../../src/container/lsm';

const skip = whyNoContainers();
const ID = `cf${process.pid}`;
let dir: string;
let root: string;
useScratch((d, r) => {
  dir = d;
  root = r;
});
const rc = (...args: string[]) => runcell(['--root', root, ...args], { cwd: dir });

/** create fails with `message`, and leaves no container behind. */
async function refusedAtCreate(bundle: string, message: string): Promise<void> {
  const result = await rc('create', '-b', bundle, ID);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(message);
  expect((await rc('list', '-q')).stdout).toBe('');
  expect(fs.existsSync(root) ? fs.readdirSync(root) : []).toEqual([]);
}

describe.skipIf(skip !== null)(`config fields refused at create${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('a relative hook path is refused, and nothing runs it against the caller\'s working directory', async () => {
    // A hook the relative path would find from the caller's cwd (the scratch directory).
    const marker = path.join(dir, 'ran');
    fs.mkdirSync(path.join(dir, 'hooks'));
    fs.writeFileSync(path.join(dir, 'hooks', 'mark'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    for (const kind of ['prestart', 'createRuntime', 'poststop']) {
      const bundle = makeBundle(path.join(dir, 'bundle'), ['true'], (spec) => void (spec.hooks = { [kind]: [{ path: 'hooks/mark' }] }));
      await refusedAtCreate(bundle, `config.hooks.${kind}[0].path: "hooks/mark" is not absolute`);
      expect(fs.existsSync(marker)).toBe(false);
    }
  });

  it('rlimits: a soft limit above the hard one, and RLIMIT_NOFILE above fs.nr_open, fail create (they used to fail start)', async () => {
    const nrOpen = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8'));
    let bundle = makeBundle(path.join(dir, 'bundle'), ['true'], (spec) => void (spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 2048, hard: 1024 }]));
    await refusedAtCreate(bundle, 'config.process.rlimits[0].soft: 2048 is above the hard limit 1024');
    bundle = makeBundle(path.join(dir, 'bundle'), ['true'], (spec) => void (spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: nrOpen + 1 }]));
    await refusedAtCreate(bundle, `config.process.rlimits[0].hard: ${nrOpen + 1} is above the kernel's maximum for RLIMIT_NOFILE`);
    bundle = makeBundle(path.join(dir, 'bundle'), ['true'], (spec) => {
      spec.process.rlimits = [{ type: 'RLIMIT_CORE', soft: 0, hard: 0 }, { type: 'RLIMIT_CORE', soft: 1, hard: 1 }];
    });
    await refusedAtCreate(bundle, 'config.process.rlimits[1].type: "RLIMIT_CORE" is listed twice');
  });

  it.skipIf(hasCapSysResource())('rlimits: a hard limit above the caller\'s, without CAP_SYS_RESOURCE, fails create with the reason', async () => {
    const nrOpen = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8'));
    const bundle = makeBundle(path.join(dir, 'bundle'), ['true'], (spec) => void (spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: nrOpen }]));
    await refusedAtCreate(bundle, `set RLIMIT_NOFILE to 1024/${nrOpen}: raising the hard limit of RLIMIT_NOFILE to ${nrOpen} needs CAP_SYS_RESOURCE`);
  });

  it('rlimits within reach are set, as the process sees them', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['sh', '-c', 'ulimit -n; ulimit -Hn'], (spec) => {
      spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }];
    });
    expect(await rc('run', '-b', bundle, ID)).toMatchObject({ code: 0, stdout: '100\n200\n' });
  });

  it.skipIf(appArmorEnabled())('process.apparmorProfile is refused where AppArmor is not enabled (test/vm/apparmor.test.ts applies it)', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['true'], (spec) => void (spec.process.apparmorProfile = 'docker-default'));
    await refusedAtCreate(bundle, 'config.process.apparmorProfile: "docker-default" cannot be applied: AppArmor is not enabled on this host');
  });

  it('process.ioPriority (not implemented) is refused, not dropped', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['true'], (spec) => void (spec.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE' }));
    await refusedAtCreate(bundle, 'config.process.ioPriority: the I/O priority (ioprio_set) is not implemented by runcell');
  });
});

describe.skipIf(skip !== null || process.arch !== 'x64')(`linux.personality${skip ? ` (skipped: ${skip})` : process.arch !== 'x64' ? ' (skipped: LINUX32 is x86_64\'s 32-bit personality)' : ''}`, () => {
  it('LINUX32: the container\'s process and an exec\'d one see an i686 machine', async () => {
    const personality = (spec: { linux: Record<string, unknown> }) => void (spec.linux.personality = { domain: 'LINUX32' });
    let bundle = makeBundle(path.join(dir, 'bundle'), ['uname', '-m'], personality);
    expect(await rc('run', '-b', bundle, ID)).toMatchObject({ code: 0, stdout: 'i686\n' });
    bundle = makeBundle(path.join(dir, 'bundle'), ['sleep', '1000'], personality);
    expect(await rc('run', '-d', '-b', bundle, ID)).toMatchObject({ code: 0 });
    expect(await rc('exec', ID, 'uname', '-m')).toMatchObject({ code: 0, stdout: 'i686\n' });
    expect(await rc('delete', '--force', ID)).toMatchObject({ code: 0 });
  });

  it('LINUX is the default one: x86_64', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['uname', '-m'], (spec) => void (spec.linux.personality = { domain: 'LINUX' }));
    expect(await rc('run', '-b', bundle, ID)).toMatchObject({ code: 0, stdout: 'x86_64\n' });
  });
});
