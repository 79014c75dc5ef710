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
    // "SCMP_ARCH_X86_64" is libseccomp's "x86_64".
    architectures: (profile.architectures ?? []).map((arch) => arch.replace(/^SCMP_ARCH_/, '').toLowerCase()),
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
