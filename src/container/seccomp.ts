// linux.seccomp of config.json, compiled to the BPF program the init loads just before the
// process runs. Enforced, never ignored: the OCI validation suite, podman and containerd all
// send profiles. Unknown actions are errors; syscall names this libseccomp does not know are
// skipped with a debug line, as runc does (profiles list syscalls of newer kernels).
import * as fs from 'node:fs';
import { log } from '../log';
import { native, type SeccompFilter } from '../sys/native';
import { SpecError } from '../oci/spec';
import { OCI_VERSION } from '../version';

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
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
  /** With SCMP_ACT_NOTIFY: where the filter's listener goes (the seccomp agent). */
  listener?: SeccompListener;
}

export interface SeccompListener {
  /** config.linux.seccomp.listenerPath: a unix socket of the agent. */
  path: string;
  /** config.linux.seccomp.listenerMetadata, passed on as the state's "metadata". */
  metadata?: string;
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
  SCMP_ACT_NOTIFY: () => 0x7fc00000,
  SCMP_ACT_ALLOW: () => 0x7fff0000,
};
/** The actions a profile may use (for `features`: the table the compiler uses). */
export const SECCOMP_ACTIONS: readonly string[] = Object.keys(ACTIONS);

const OPERATORS: Record<string, number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};
const FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1, SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
};
const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
/** The system calls that hand the listener over: notified, they would wait for an agent that
 * cannot have it yet. */
const NOT_NOTIFIABLE = ['sendmsg', 'connect', 'socket'];

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
    throw new SpecError(`config.json: ${where}: unknown or unsupported seccomp action "${name}"`);
  }
  // runc refuses it too: every system call of the process, the very first, would wait for an
  // agent that does not have the listener yet.
  if (name === 'SCMP_ACT_NOTIFY' && where.endsWith('defaultAction')) throw new SpecError(`config.json: ${where}: SCMP_ACT_NOTIFY cannot be the default action`);
  return make(errnoRet ?? profile.defaultErrnoRet ?? EPERM);
}

export function compileSeccomp(profile: SeccompProfile): CompiledSeccomp {
  const filter: SeccompFilter = {
    defaultAction: action(profile.defaultAction, undefined, profile, 'config.linux.seccomp.defaultAction'),
    architectures: (profile.architectures ?? []).map(libseccompArch),
    syscalls: [],
  };
  let notify = false;
  (profile.syscalls ?? []).forEach((rule, i) => {
    const where = `config.linux.seccomp.syscalls[${i}]`;
    const ruleAction = action(rule.action, rule.errnoRet, profile, `${where}.action`);
    const args = (rule.args ?? []).map((arg, j) => {
      const op = OPERATORS[arg.op];
      if (op === undefined) throw new SpecError(`config.json: ${where}.args[${j}].op: unknown operator "${arg.op}"`);
      return { index: arg.index, op, value: BigInt(arg.value), valueTwo: BigInt(arg.valueTwo ?? 0) };
    });
    if (rule.action === 'SCMP_ACT_NOTIFY') {
      notify = true;
      const refused = rule.names.filter((name) => NOT_NOTIFIABLE.includes(name));
      if (refused.length > 0) throw new SpecError(`config.json: ${where}.names: SCMP_ACT_NOTIFY cannot apply to ${refused.join(', ')} (runcell hands the listener over with them)`);
    }
    for (const name of rule.names) filter.syscalls.push({ name, action: ruleAction, args });
  });
  let flags = 0;
  for (const flag of profile.flags ?? []) {
    if (FLAGS[flag] === undefined) throw new SpecError(`config.json: config.linux.seccomp.flags: unknown flag "${flag}"`);
    flags |= FLAGS[flag];
  }
  // config-linux.md: "If no SCMP_ACT_NOTIFY action is used in the seccomp profile, the
  // listenerPath MUST NOT be provided."
  if (!notify && profile.listenerPath !== undefined) {
    throw new SpecError('config.json: config.linux.seccomp.listenerPath: is given, but no rule uses SCMP_ACT_NOTIFY');
  }
  const listener = notify ? seccompListener(profile) : undefined;
  if (listener !== undefined) flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  const { program, skipped } = native.compileSeccomp(filter);
  if (skipped.length > 0) log.debug(`seccomp: skipping syscalls this system does not know: ${skipped.join(', ')}`);
  return { flags, program, listener };
}

// SCMP_ACT_NOTIFY: the filter is loaded with a listener, which goes to the agent listening at
// listenerPath with the process's state (runtime-spec config-linux.md "seccomp", runtime.md
// "containerProcessState"), as runc and crun send it.
function seccompListener(profile: SeccompProfile): SeccompListener {
  const where = 'config.json: config.linux.seccomp.listenerPath';
  const listenerPath = profile.listenerPath;
  if (listenerPath === undefined || listenerPath === '') throw new SpecError(`${where}: SCMP_ACT_NOTIFY needs a listener (the agent's unix socket)`);
  if (!listenerPath.startsWith('/')) throw new SpecError(`${where}: "${listenerPath}" is not an absolute path`);
  const stat = fs.statSync(listenerPath, { throwIfNoEntry: false });
  if (stat === undefined) throw new SpecError(`${where}: "${listenerPath}" does not exist`);
  if (!stat.isSocket()) throw new SpecError(`${where}: "${listenerPath}" is not a unix socket`);
  const metadata = profile.listenerMetadata;
  return { path: listenerPath, metadata: metadata === undefined || metadata === '' ? undefined : metadata };
}

/** The listener of a profile create accepted, if it has one (start and exec send to it). */
export function listenerOf(profile: SeccompProfile | undefined): SeccompListener | undefined {
  const notify = (profile?.syscalls ?? []).some((rule) => rule.action === 'SCMP_ACT_NOTIFY');
  return notify && profile?.listenerPath ? { path: profile.listenerPath, metadata: profile.listenerMetadata || undefined } : undefined;
}

/**
 * The message that goes with the listener (runtime.md "containerProcessState"), split around
 * the process's pid where only native/init learns it (exec): before + pid + after.
 */
export function containerProcessState(state: object, listener: SeccompListener): { before: string; after: string } {
  const head = { ociVersion: OCI_VERSION, fds: ['seccompFd'] };
  const tail = { ...(listener.metadata === undefined ? {} : { metadata: listener.metadata }), state };
  const before = JSON.stringify(head).slice(0, -1) + ',"pid":';
  const after = ',' + JSON.stringify(tail).slice(1);
  return { before, after };
}
