// `runcell features`: what this runtime supports, in the runtime-spec's features.md format
// (ociVersionMin and ociVersionMax are required; the rest says what is implemented). Every list
// comes from the table the code itself uses, so it cannot drift from what runcell accepts.
import { HOOK_KINDS } from '../container/hooks';
import { CAPABILITIES, SUPPORTED_NAMESPACES } from '../container/launch-plan';
import { mountOptionWords } from '../container/rootfs-plan';
import { seccompFeatures } from '../container/seccomp';
import { OCI_VERSION } from '../version';

export function features(): Record<string, unknown> {
  const seccomp = seccompFeatures();
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: [...HOOK_KINDS],
    mountOptions: mountOptionWords(),
    linux: {
      namespaces: [...SUPPORTED_NAMESPACES].sort(),
      capabilities: CAPABILITIES,
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: false },
      seccomp: {
        enabled: true,
        actions: seccomp.actions,
        operators: seccomp.operators,
        archs: seccomp.archs,
        supportedFlags: seccomp.flags,
      },
      // features.md: "whether AppArmor support is compiled in. Unrelated to whether the host
      // supports AppArmor or not" (src/container/lsm.ts applies both where the host has them).
      apparmor: { enabled: true },
      selinux: { enabled: true },
    },
    // runc's own keys (org.opencontainers.runc.*: its version, commit, checkpointing) are not
    // ours to claim; the libseccomp one is: the addon compiles every profile with it.
    annotations: {
      'io.github.seccomp.libseccomp.version': seccomp.libseccompVersion,
    },
  };
}
