// Sandbox membership from annotations, the OOM-score policy, and the plans of subcontainers
// and exec: without root.
import { describe, expect, it } from 'vitest';
import { buildLaunchPlan, defaultSpec, validateSpec, type Process, type Spec } from '../../src';
import { membershipOf } from '../../src/container/sandbox';
import { sandboxOOMScore } from '../../src/container/oom-score';
import { buildExecPlan } from '../../src/container/launch-plan';
import { execProcess } from '../../src/container/exec';
import { PLAN_FILES, useScratchBundle } from '../helpers/env';

const defaultProcess = () => defaultSpec().process as Process;

describe('membershipOf', () => {
  it('reads containerd\'s and CRI-O\'s annotations; without any a container is its own sandbox', () => {
    expect(membershipOf('c', undefined)).toEqual({ sandboxId: 'c', isRoot: true, isCriSandbox: false });
    expect(membershipOf('p', { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'p' }))
      .toEqual({ sandboxId: 'p', isRoot: true, isCriSandbox: true });
    expect(membershipOf('c', { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'p' }))
      .toEqual({ sandboxId: 'p', isRoot: false, isCriSandbox: false });
    expect(membershipOf('c', { 'io.kubernetes.cri-o.ContainerType': 'container', 'io.kubernetes.cri-o.SandboxID': 'p' }))
      .toEqual({ sandboxId: 'p', isRoot: false, isCriSandbox: false });
  });

  it('refuses a member without a sandbox id, with a bad one, or naming itself, and an unknown type', () => {
    expect(() => membershipOf('c', { 'io.kubernetes.cri.container-type': 'container' })).toThrow(/no sandbox is named/);
    expect(() => membershipOf('c', { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': '../x' }))
      .toThrow(/config.annotations.io.kubernetes.cri.sandbox-id: invalid container id/);
    expect(() => membershipOf('c', { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'c' }))
      .toThrow(/cannot be its own sandbox's member/);
    expect(() => membershipOf('c', { 'io.kubernetes.cri.container-type': 'pod' })).toThrow(/"pod" is neither "sandbox" nor "container"/);
  });
});

describe('sandboxOOMScore', () => {
  const m = (oomScoreAdj?: number, isCriSandbox = false) => ({ oomScoreAdj, isCriSandbox });
  it('is the lowest score of the members, the CRI pause container left out', () => {
    expect(sandboxOOMScore([m(-999, true), m(300), m(200), m()], 0, false)).toBe(200);
    expect(sandboxOOMScore([m(100)], 0, false)).toBe(100); // a plain root counts
  });
  it('with no score: left alone after a start, the original after a destroy', () => {
    expect(sandboxOOMScore([m(-999, true), m()], 5, false)).toBeUndefined();
    expect(sandboxOOMScore([m(-999, true)], 5, true)).toBe(5);
    expect(sandboxOOMScore([], undefined, true)).toBeUndefined();
  });
});

describe('plans of subcontainers and exec', () => {
  let bundle: string;
  useScratchBundle((b) => (bundle = b));
  const files = PLAN_FILES;
  const sandbox = { pid: 7, ipc: 8, uts: 9, network: 10 };
  const cgroup = { version: 2, directory: '/sys/fs/cgroup/runcell/m' } as const; // what the spec's cgroup mount shows
  const spec = (namespaces: object[]): Spec => {
    const s = defaultSpec() as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    s.process.args = ['true'];
    s.linux.namespaces = namespaces;
    delete s.hostname;
    return validateSpec(s);
  };

  it('puts a member\'s init in the sandbox\'s pid namespace and joins what its spec leaves out', () => {
    const p = buildLaunchPlan(spec([{ type: 'mount' }, { type: 'pid' }, { type: 'network' }]), { bundle, files, extraFds: 0, sandbox, cgroup });
    const find = (op: string) => p.ops.filter((o) => o.op === op).map((o) => o.args);
    expect(find('g-join-pid')).toEqual([['/proc/self/fd/7']]);
    expect(find('g-clone')).toEqual([['0']]); // never pid 1 of a namespace of its own
    expect(find('i-setns-fd')).toEqual([['8', String(0x08000000)], ['9', String(0x04000000)]]); // ipc, uts: not network
    expect(find('i-close')).toEqual([['7', '8', '9', '10']]);
    expect(find('i-user-clone')).toEqual([[String(0x20000000)]]); // its process: a nested pid namespace
  });

  it('gives a member\'s process the pid namespace its spec names, or the sandbox\'s', () => {
    const byPath = buildLaunchPlan(spec([{ type: 'mount' }, { type: 'pid', path: '/proc/42/ns/pid' }]), { bundle, files, extraFds: 0, sandbox, cgroup });
    expect(byPath.ops.filter((o) => o.op === 'i-setns').map((o) => o.args)).toEqual([['/proc/42/ns/pid', String(0x20000000)]]);
    expect(byPath.ops.find((o) => o.op === 'i-user-clone')!.args).toEqual(['0']);
    const none = buildLaunchPlan(spec([{ type: 'mount' }]), { bundle, files, extraFds: 0, sandbox, cgroup });
    expect(none.ops.find((o) => o.op === 'i-user-clone')!.args).toEqual(['0']);
    expect(none.ops.filter((o) => o.op === 'i-setns-fd')).toHaveLength(3);
  });

  it('refuses a hostname for a member that shares the sandbox\'s uts namespace', () => {
    const s = spec([{ type: 'mount' }]);
    s.hostname = 'x';
    expect(() => buildLaunchPlan(s, { bundle, files, extraFds: 0, sandbox, cgroup })).toThrow(/shares its sandbox's hostname/);
  });

  it('exec: cgroup, console, namespaces (mount, then user last), terminal, then the process\'s own steps', () => {
    const proc = execProcess(defaultProcess(), { args: ['sh'], env: ['TERM=dumb', 'HOME=/x'], capabilities: ['net_admin'], tty: true });
    expect(proc.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=dumb', 'HOME=/x']);
    expect(proc.capabilities!.ambient).toContain('CAP_NET_ADMIN');
    const p = buildExecPlan(proc, {
      cgroupProcs: ['/sys/fs/cgroup/pids/c/cgroup.procs'],
      namespaces: [{ type: 'pid', fd: 5 }, { type: 'mount', fd: 6 }, { type: 'user', fd: 7 }],
      consoleSocket: '/tmp/s.sock',
    });
    expect(p.ops.map((o) => o.op).slice(0, 8)).toEqual(['x-write', 'x-console', 'x-setns-fd', 'x-setns-fd', 'x-setns-fd', 'x-close', 'x-pty', 'x-clone']);
    expect(p.ops[0].args).toEqual(['/sys/fs/cgroup/pids/c/cgroup.procs', '0']);
    const names = p.ops.map((o) => o.op);
    expect(names.indexOf('u-setsid')).toBeLessThan(names.indexOf('u-console'));
    expect(names.at(-1)).toBe('u-exec');
    // Without a terminal an exec'd process stays in the caller's session (as with runc).
    const plain = buildExecPlan({ ...execProcess(defaultProcess(), { args: ['true'] }), terminal: false }, { cgroupProcs: [], namespaces: [] });
    expect(plain.ops.some((o) => o.op === 'u-setsid' || o.op === 'x-pty')).toBe(false);
  });
});
