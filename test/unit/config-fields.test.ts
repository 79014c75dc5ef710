// Every field of config.json is applied or refused with an error naming it: hook paths,
// rlimits, the security labels, personality, and the fields runcell does not implement.
// Without root: validation and the launch plan.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildExecPlan, buildLaunchPlan, defaultSpec, validateProcess, validateSpec, type Spec } from '../../src';
import { appArmorEnabled, selinuxEnabled } from '../../src/container/lsm';
import { PLAN_FILES, useScratchBundle } from '../helpers/env';

let bundle: string;
useScratchBundle((b) => (bundle = b));
const files = PLAN_FILES;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function config(edit: (s: any) => void = () => {}): unknown {
  const s = defaultSpec() as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  s.process.terminal = false;
  s.process.args = ['sh', '-c', 'true'];
  edit(s);
  return s;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const spec = (edit: (s: any) => void = () => {}): Spec => validateSpec(config(edit));
const plan = (s: Spec) => buildLaunchPlan(s, { bundle, files, extraFds: 0, cgroup: { version: 2, directory: '/sys/fs/cgroup/runcell/c' } });
const nrOpen = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8'));

describe('hooks', () => {
  const kinds = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

  it.each(kinds)('a relative %s hook path is refused, naming the field', (kind) => {
    expect(() => spec((s) => (s.hooks = { [kind]: [{ path: '/bin/true' }, { path: 'bin/hook' }] })))
      .toThrow(`config.json: config.hooks.${kind}[1].path: "bin/hook" is not absolute`);
  });

  it('takes absolute paths with args, env and a timeout; refuses a timeout of 0 (the spec: greater than zero)', () => {
    expect(() => spec((s) => (s.hooks = { prestart: [{ path: '/bin/true', args: ['true', 'x'], env: ['A=b'], timeout: 5 }] }))).not.toThrow();
    expect(() => spec((s) => (s.hooks = { poststop: [{ path: '/bin/true', timeout: 0 }] })))
      .toThrow('config.hooks.poststop[0].timeout: must be an integer from 1');
    expect(() => spec((s) => (s.hooks = { poststart: [{ args: ['x'] }] }))).toThrow('config.hooks.poststart[0].path: is required');
  });
});

describe('rlimits', () => {
  const limits = (...rlimits: unknown[]) => (s: { process: { rlimits: unknown[] } }) => void (s.process.rlimits = rlimits);

  it('refuses a type listed twice ("Each type MUST be unique"), a soft limit above the hard one, an unknown type', () => {
    expect(() => spec(limits({ type: 'RLIMIT_NOFILE', soft: 1, hard: 2 }, { type: 'RLIMIT_CORE', soft: 0, hard: 0 }, { type: 'RLIMIT_NOFILE', soft: 2, hard: 2 })))
      .toThrow('config.process.rlimits[2].type: "RLIMIT_NOFILE" is listed twice (each type must be unique)');
    expect(() => spec(limits({ type: 'RLIMIT_NOFILE', soft: 2048, hard: 1024 })))
      .toThrow('config.process.rlimits[0].soft: 2048 is above the hard limit 1024');
    expect(() => spec(limits({ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }))).toThrow('config.process.rlimits[0].type: unknown rlimit "RLIMIT_BOGUS"');
    expect(() => validateProcess({ cwd: '/', user: { uid: 0, gid: 0 }, rlimits: [{ type: 'RLIMIT_AS', soft: 2, hard: 1 }] }, 'p.json'))
      .toThrow('p.json: process.rlimits[0].soft: 2 is above the hard limit 1');
  });

  it('refuses RLIMIT_NOFILE above the kernel\'s maximum (fs.nr_open), for create and exec', () => {
    const s = spec(limits({ type: 'RLIMIT_NOFILE', soft: 1024, hard: nrOpen + 1 }));
    expect(() => plan(s)).toThrow(`config.process.rlimits[0].hard: ${nrOpen + 1} is above the kernel's maximum for RLIMIT_NOFILE (fs.nr_open = ${nrOpen})`);
    expect(() => buildExecPlan(s.process!, { cgroupProcs: [], namespaces: [] }))
      .toThrow(`process.rlimits[0].hard: ${nrOpen + 1} is above the kernel's maximum`);
    expect(() => plan(spec(limits({ type: 'RLIMIT_NOFILE', soft: 1024, hard: nrOpen })))).not.toThrow();
  });

  it('sets them before the start gate (a refusal fails create), and in an exec\'d process before exec', () => {
    const p = plan(spec(limits({ type: 'RLIMIT_NOFILE', soft: 512, hard: 1024 })));
    const names = p.ops.map((o) => o.op);
    const set = names.indexOf('p-setrlimit');
    expect(p.ops[set].args).toEqual(['7', '512', '1024']);
    expect(set).toBeGreaterThan(names.indexOf('i-pivot-root'));
    expect(set).toBeLessThan(names.findIndex((n) => n.startsWith('u-')));
    expect(names).not.toContain('u-setrlimit');
    expect(p.ops[set].hints?.EPERM).toContain('CAP_SYS_RESOURCE');
    const exec = buildExecPlan({ cwd: '/', user: { uid: 0, gid: 0 }, args: ['true'], rlimits: [{ type: 'RLIMIT_CORE', soft: 0, hard: 0 }] },
      { cgroupProcs: [], namespaces: [] }).ops.map((o) => o.op);
    expect(exec).toContain('u-setrlimit');
    expect(exec.indexOf('u-setrlimit')).toBeLessThan(exec.indexOf('u-exec'));
  });
});

describe('security labels', () => {
  it(`process.apparmorProfile is ${appArmorEnabled() ? 'written to the exec attribute before the start gate (AppArmor is enabled here)' : 'refused, naming the field (AppArmor is not enabled here)'}`, () => {
    const s = spec((c) => (c.process.apparmorProfile = 'runcell-test'));
    if (!appArmorEnabled()) {
      expect(() => plan(s)).toThrow('config.json: config.process.apparmorProfile: "runcell-test" cannot be applied: AppArmor is not enabled on this host');
      expect(() => buildExecPlan({ ...s.process!, args: ['true'] }, { cgroupProcs: [], namespaces: [] }))
        .toThrow('process.apparmorProfile: "runcell-test" cannot be applied');
      return;
    }
    const p = plan(s);
    const step = p.ops.find((o) => o.op === 'p-write-proc')!;
    expect(step.args[0]).toMatch(/^self\/attr\/(apparmor\/)?exec$/); // under /proc, reached without crossing a mount
    expect(step.args[1]).toBe('exec runcell-test');
  });

  it(`process.selinuxLabel and linux.mountLabel are ${selinuxEnabled() ? 'applied (SELinux is enabled here)' : 'refused, naming the field (SELinux is not enabled here)'}`, () => {
    const labelled = spec((c) => (c.process.selinuxLabel = 'system_u:system_r:container_t:s0'));
    const mounted = spec((c) => (c.linux.mountLabel = 'system_u:object_r:container_file_t:s0'));
    if (!selinuxEnabled()) {
      expect(() => plan(labelled)).toThrow('config.json: config.process.selinuxLabel: "system_u:system_r:container_t:s0" cannot be applied: SELinux is not enabled on this host');
      expect(() => plan(mounted)).toThrow('config.json: config.linux.mountLabel: "system_u:object_r:container_file_t:s0" cannot be applied: SELinux is not enabled on this host');
      return;
    }
    expect(plan(labelled).ops.find((o) => o.op === 'p-write-proc')!.args).toEqual(['self/attr/exec', 'system_u:system_r:container_t:s0']);
    const tmpfs = plan(mounted).ops.find((o) => o.op === 'i-mount-tmpfs')!;
    expect(tmpfs.args[3]).toMatch(/context="system_u:object_r:container_file_t:s0"$/);
  });

  it('an empty label is no label', () => {
    const names = plan(spec((c) => {
      c.process.apparmorProfile = '';
      c.process.selinuxLabel = '';
      c.linux.mountLabel = '';
    })).ops.map((o) => o.op);
    expect(names).not.toContain('p-write-proc');
  });
});

describe('linux.personality', () => {
  it('sets the domain with personality(2) before exec, for the container\'s process and exec\'d ones', () => {
    const s = spec((c) => (c.linux.personality = { domain: 'LINUX32', flags: [] }));
    const step = plan(s).ops.find((o) => o.op === 'u-personality')!;
    expect(step.args).toEqual(['8']);
    const exec = buildExecPlan({ ...s.process!, args: ['true'] }, { cgroupProcs: [], namespaces: [], personality: s.linux!.personality });
    expect(exec.ops.find((o) => o.op === 'u-personality')!.args).toEqual(['8']);
    expect(plan(spec((c) => (c.linux.personality = { domain: 'LINUX' }))).ops.find((o) => o.op === 'u-personality')!.args).toEqual(['0']);
    expect(plan(spec()).ops.map((o) => o.op)).not.toContain('u-personality');
  });

  it('refuses an unknown domain and any flag (the spec defines none), naming the field', () => {
    expect(() => spec((c) => (c.linux.personality = { domain: 'SVR4' }))).toThrow('config.linux.personality.domain: must be one of LINUX, LINUX32');
    expect(() => spec((c) => (c.linux.personality = { flags: [] }))).toThrow('config.linux.personality.domain: is required');
    expect(() => spec((c) => (c.linux.personality = { domain: 'LINUX', flags: ['ADDR_NO_RANDOMIZE'] })))
      .toThrow('config.linux.personality.flags[0]: unknown personality flag "ADDR_NO_RANDOMIZE"');
  });
});

describe('fields runcell does not implement', () => {
  it.each([
    ['process.ioPriority', (c: any) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE', priority: 0 })], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['process.scheduler', (c: any) => (c.process.scheduler = { policy: 'SCHED_BATCH' })], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['process.execCPUAffinity', (c: any) => (c.process.execCPUAffinity = { initial: '0' })], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['linux.intelRdt', (c: any) => (c.linux.intelRdt = { closID: 'x', l3CacheSchema: 'L3:0=f' })], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['linux.timeOffsets', (c: any) => (c.linux.timeOffsets = { monotonic: { secs: 10, nanosecs: 0 } })], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['linux.netDevices', (c: any) => (c.linux.netDevices = { eth1: {} })], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['linux.memoryPolicy', (c: any) => (c.linux.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0' })], // eslint-disable-line @typescript-eslint/no-explicit-any
  ])('%s is refused, naming the field', (field, edit) => {
    expect(() => spec(edit)).toThrow(`config.json: config.${field}: `);
  });

  it('an exec process.json with one of them is refused too', () => {
    expect(() => validateProcess({ cwd: '/', user: { uid: 0, gid: 0 }, scheduler: { policy: 'SCHED_FIFO', priority: 1 } }, 'p.json'))
      .toThrow('p.json: process.scheduler: the scheduling policy (sched_setattr) is not implemented by runcell');
  });
});
