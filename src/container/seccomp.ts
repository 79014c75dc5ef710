// linux.seccomp of config.json, compiled to the BPF program the init loads just before the
// process runs. Enforced, never ignored: the OCI validation suite, podman and containerd all
// send profiles. Unknown actions are errors; syscall names this libseccomp does not know are
// skipped with a debug line, as runc does (profiles list syscalls of newer kernels).
import { log } from '../log';
import { native, type SeccompFilter } from '../sys/native';
import { SpecError } from '../oci/spec';

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  syscalls?: Array<{
    names: string[];
    action: string;
    errnoRet?: number;
    args?: Array<{ index: number; value: number; valueTwo?: number; op: string }>;
  }>;
}

export interface CompiledSeccomp {
  /** seccomp(2) flags for loading. */
  flags: number;
  /** struct sock_filter[], as bytes. */
  program: Buffer;
}

const EPERM = 1;
const ACTIONS: Record<string, (errno: number) => number> = {
  SCMP_ACT_KILL: () => 0x00000000,
  SCMP_ACT_KILL_THREAD: () => 0x00000000,
  SCMP_ACT_KILL_PROCESS: () => 0x80000000,
  SCMP_ACT_TRAP: () => 0x00030000,
  SCMP_ACT_ERRNO: (errno) => 0x00050000 | (errno & 0xffff),
  SCMP_ACT_TRACE: (errno) => 0x7ff00000 | (errno & 0xffff),
  SCMP_ACT_LOG: () => 0x7ffc0000,
  SCMP_ACT_ALLOW: () => 0x7fff0000,
};
const OPERATORS: Record<string, number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};
const FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1, SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
};

// The runtime-spec's architectures (config-linux.md); which of them libseccomp knows is asked
// of libseccomp itself (seccompFeatures).
const SPEC_ARCHITECTURES = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64', 'SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K', 'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB',
];

/** "SCMP_ARCH_X86_64" is libseccomp's "x86_64". */
const libseccompArch = (arch: string): string => arch.replace(/^SCMP_ARCH_/, '').toLowerCase();

/** The names compileSeccomp takes, from its own tables (`runcell features`). */
export function seccompFeatures(): { actions: string[]; operators: string[]; archs: string[]; flags: string[]; libseccompVersion: string } {
  const known = (arch: string): boolean => {
    try {
      native.compileSeccomp({ defaultAction: ACTIONS.SCMP_ACT_ALLOW(0), architectures: [libseccompArch(arch)], syscalls: [] });
      return true;
    } catch {
      return false; // EINVAL from seccomp_arch_resolve_name: not this libseccomp's
    }
  };
  return {
    actions: Object.keys(ACTIONS).sort(), operators: Object.keys(OPERATORS).sort(),
    archs: SPEC_ARCHITECTURES.filter(known).sort(), flags: Object.keys(FLAGS).sort(), libseccompVersion: native.seccompVersion(),
  };
}

function action(name: string, errnoRet: number | undefined, profile: SeccompProfile, where: string): number {
  const make = ACTIONS[name];
  if (make === undefined) {
    throw new SpecError(`config.json: ${where}: unknown or unsupported seccomp action "${name}"` +
      (name === 'SCMP_ACT_NOTIFY' ? ' (seccomp notification needs a listener runcell does not provide)' : ''));
  }
  return make(errnoRet ?? profile.defaultErrnoRet ?? EPERM);
}

export function compileSeccomp(profile: SeccompProfile): CompiledSeccomp {
  const filter: SeccompFilter = {
    defaultAction: action(profile.defaultAction, undefined, profile, 'config.linux.seccomp.defaultAction'),
    architectures: (profile.architectures ?? []).map(libseccompArch),
    syscalls: [],
  };
  (profile.syscalls ?? []).forEach((rule, i) => {
    const where = `config.linux.seccomp.syscalls[${i}]`;
    const ruleAction = action(rule.action, rule.errnoRet, profile, `${where}.action`);
    const args = (rule.args ?? []).map((arg, j) => {
      const op = OPERATORS[arg.op];
      if (op === undefined) throw new SpecError(`config.json: ${where}.args[${j}].op: unknown operator "${arg.op}"`);
      return { index: arg.index, op, value: BigInt(arg.value), valueTwo: BigInt(arg.valueTwo ?? 0) };
    });
    for (const name of rule.names) filter.syscalls.push({ name, action: ruleAction, args });
  });
  let flags = 0;
  for (const flag of profile.flags ?? []) {
    if (FLAGS[flag] === undefined) throw new SpecError(`config.json: config.linux.seccomp.flags: unknown flag "${flag}"`);
    flags |= FLAGS[flag];
  }
  const { program, skipped } = native.compileSeccomp(filter);
  if (skipped.length > 0) log.debug(`seccomp: skipping syscalls this system does not know: ${skipped.join(', ')}`);
  return { flags, program };
}
