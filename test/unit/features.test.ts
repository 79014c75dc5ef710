// `runcell features` says what the code does: each list is checked against the part of
// runcell that acts on it (the launch-plan builder, the seccomp compiler), so a list that
// claims what the code refuses, or leaves out what it accepts, fails here.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { buildLaunchPlan, defaultSpec, validateSpec, type Spec } from '../../src';
import { features } from '../../src/oci/features';
import { compileSeccomp } from '../../src/container/seccomp';
import { HOOK_KINDS } from '../../src/container/hooks';
import { PLAN_FILES, useScratchBundle } from '../helpers/env';

let bundle: string;
useScratchBundle((b) => (bundle = b));
const files = PLAN_FILES;
const cgroup = { version: 2, directory: '/sys/fs/cgroup/runcell/c' } as const;
function builds(edit: (s: any) => void): boolean { // eslint-disable-line @typescript-eslint/no-explicit-any
  const s = defaultSpec() as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  s.process.terminal = false;
  s.process.args = ['true'];
  try {
    edit(s);
    buildLaunchPlan(validateSpec(s) as Spec, { bundle, files, extraFds: 0, cgroup });
    return true;
  } catch {
    return false;
  }
}
const compiles = (profile: Record<string, unknown>): boolean => {
  try {
    compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', ...profile } as never);
    return true;
  } catch {
    return false;
  }
};

// What runc 1.1.5 lists (`runc features` on this host) and the runtime-spec's own names: the
// candidates each list is checked over, in both directions.
const RUNC_MOUNT_OPTIONS = [
  'acl', 'async', 'atime', 'bind', 'defaults', 'dev', 'diratime', 'dirsync', 'exec', 'iversion', 'lazytime', 'loud', 'mand',
  'noacl', 'noatime', 'nodev', 'nodiratime', 'noexec', 'noiversion', 'nolazytime', 'nomand', 'norelatime', 'nostrictatime',
  'nosuid', 'nosymfollow', 'private', 'ratime', 'rbind', 'rdev', 'rdiratime', 'relatime', 'remount', 'rexec', 'rnoatime',
  'rnodev', 'rnodiratime', 'rnoexec', 'rnorelatime', 'rnostrictatime', 'rnosuid', 'rnosymfollow', 'ro', 'rprivate',
  'rrelatime', 'rro', 'rrw', 'rshared', 'rslave', 'rstrictatime', 'rsuid', 'rsymfollow', 'runbindable', 'rw', 'shared',
  'silent', 'slave', 'strictatime', 'suid', 'symfollow', 'sync', 'tmpcopyup', 'unbindable', 'idmap', 'ridmap',
];
const SPEC_ACTIONS = ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY'];
const SPEC_OPERATORS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];
const SPEC_FLAGS = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'];
const SPEC_ARCHS = ['SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64', 'SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K', 'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const f = features() as any;

describe('features', () => {
  it('lists a mount option exactly when the planner takes it (on a bind, or a filesystem without data options)', () => {
    // sysfs takes no data options, so a word the planner does not know is refused there rather
    // than passed to the kernel (features.md: filesystem-specific options are not listed);
    // tmpcopyup is an option of tmpfs only.
    const idmapped = { uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }], gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] };
    const accepted = (option: string) => ['bind', 'sysfs', 'tmpfs'].some((type) => builds((s) => {
      fs.mkdirSync(path.join(bundle, 'src'), { recursive: true });
      if (type === 'bind') s.mounts.push({ destination: '/mnt', type: 'bind', source: path.join(bundle, 'src'), options: ['rbind', option], ...idmapped });
      else if (type === 'sysfs') s.mounts.push({ destination: '/mnt', type: 'sysfs', source: 'sysfs', options: [option] });
      else if (option === 'tmpcopyup') s.mounts.push({ destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: [option] });
      else throw new Error('not tried');
    }));
    expect(builds(() => {})).toBe(true);
    const candidates = [...new Set([...RUNC_MOUNT_OPTIONS, ...f.mountOptions, 'bogus'])];
    expect(candidates.filter(accepted).sort()).toEqual(f.mountOptions);
    // The hand copy this replaced claimed "remount", which the planner refuses.
    expect(f.mountOptions).not.toContain('remount');
  });

  it('lists the namespaces the planner takes, and every hook kind the spec has', () => {
    const SPEC_NAMESPACES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];
    const accepted = (type: string) => builds((s) => {
      delete s.hostname;
      s.linux.namespaces = type === 'mount' ? [{ type }] : [{ type: 'mount' }, { type }];
      if (type === 'user') {
        s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      }
    });
    expect(SPEC_NAMESPACES.filter(accepted).sort()).toEqual(f.linux.namespaces);
    expect(f.linux.namespaces).not.toContain('time');
    // Each kind runs (test/integration/hooks.test.ts runs all six).
    expect(f.hooks).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
    expect(f.hooks).toEqual([...HOOK_KINDS]);
  });

  it('lists the seccomp actions, operators, flags and architectures the compiler takes', async () => {
    const seccomp = f.linux.seccomp;
    // SCMP_ACT_NOTIFY needs a listenerPath where an agent listens.
    const listenerPath = path.join(bundle, 'agent.sock');
    const agent = net.createServer();
    await new Promise<void>((resolve) => agent.listen(listenerPath, resolve));
    onTestFinished(() => void agent.close());
    // As a rule's action (SCMP_ACT_NOTIFY cannot be the default one), with the listener NOTIFY needs.
    expect(SPEC_ACTIONS.filter((action) => compiles({
      syscalls: [{ names: ['mkdir'], action }], ...(action === 'SCMP_ACT_NOTIFY' ? { listenerPath } : {}),
    })).sort()).toEqual(seccomp.actions);
    expect(SPEC_OPERATORS.filter((op) => compiles({
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op }] }],
    })).sort()).toEqual(seccomp.operators);
    expect(SPEC_FLAGS.filter((flag) => compiles({ flags: [flag] })).sort()).toEqual(seccomp.supportedFlags);
    expect(SPEC_ARCHS.filter((arch) => compiles({ architectures: [arch] })).sort()).toEqual(seccomp.archs);
    expect(seccomp.archs).toContain(process.arch === 'arm64' ? 'SCMP_ARCH_AARCH64' : 'SCMP_ARCH_X86_64');
  });

  it('says AppArmor and SELinux support is built in (whether the host has them is not what features.md asks)', () => {
    expect(f.linux.apparmor).toEqual({ enabled: true });
    expect(f.linux.selinux).toEqual({ enabled: true });
  });

  it('annotates the libseccomp version the addon runs with', () => {
    const version = f.annotations['io.github.seccomp.libseccomp.version'];
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    // The same as the installed library's package says (Debian: libseccomp2 2.5.4-1+deb12u1).
    const dpkg = fs.existsSync('/var/lib/dpkg/status') ? fs.readFileSync('/var/lib/dpkg/status', 'utf8') : '';
    const installed = /Package: libseccomp2\n(?:.+\n)*?Version: (\d+\.\d+\.\d+)/.exec(dpkg)?.[1];
    if (installed !== undefined) expect(version).toBe(installed);
  });
});
