// `runcell features`: what this runtime supports, in the runtime-spec's features.md format
// (ociVersionMin and ociVersionMax are required; the rest says what is implemented).
import { NAMESPACE_TYPES } from './spec';
import { CAPABILITIES } from '../container/launch-plan';
import { OCI_VERSION } from '../version';

export function features(): Record<string, unknown> {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: [],
    mountOptions: [
      'async', 'atime', 'bind', 'defaults', 'dev', 'diratime', 'dirsync', 'exec', 'mand', 'noatime', 'nodev',
      'nodiratime', 'noexec', 'nomand', 'norelatime', 'nostrictatime', 'nosuid', 'private', 'rbind', 'relatime',
      'remount', 'ro', 'rprivate', 'rshared', 'rslave', 'runbindable', 'rw', 'shared', 'slave', 'strictatime',
      'suid', 'sync', 'unbindable',
    ],
    linux: {
      namespaces: NAMESPACE_TYPES.filter((ns) => ns !== 'time'),
      capabilities: CAPABILITIES,
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: false },
      seccomp: {
        enabled: true,
        actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD',
          'SCMP_ACT_LOG', 'SCMP_ACT_TRACE', 'SCMP_ACT_TRAP'],
        operators: ['SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_LE', 'SCMP_CMP_LT', 'SCMP_CMP_MASKED_EQ', 'SCMP_CMP_NE'],
        supportedFlags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
  };
}
