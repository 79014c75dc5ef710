// Linux security modules: process.apparmorProfile, process.selinuxLabel and linux.mountLabel.
// Each is applied where its module is enabled and refused where it is not: dropping it would
// run the container unconfined (runc, crun and runsc refuse too). The process applies its
// label as the last thing before execve does: it writes it to its own exec attribute, which
// the kernel turns into the process's label at the next execve (libapparmor's
// aa_change_onexec, libselinux's setexeccon).
import * as fs from 'node:fs';
import { SpecError, type Process } from '../oci/spec';
import type { PlanOp } from './launch-plan';

/**
 * Whether AppArmor confines processes on this host: as runc (libcontainer/apparmor), its
 * securityfs directory exists and the module's "enabled" parameter is "Y".
 */
export function appArmorEnabled(): boolean {
  if (!fs.existsSync('/sys/kernel/security/apparmor')) return false;
  try {
    return fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
  } catch {
    return false;
  }
}

/**
 * Whether SELinux is enabled on this host: as go-selinux's GetEnabled, selinuxfs is mounted and
 * this process has a label other than "kernel".
 */
export function selinuxEnabled(): boolean {
  if (!fs.existsSync('/sys/fs/selinux/enforce')) return false;
  try {
    const label = fs.readFileSync('/proc/self/attr/current', 'utf8').replace(/\0/g, '').trim();
    return label !== '' && label !== 'kernel';
  } catch {
    return false;
  }
}

// Where each module takes the label of the next execve, under /proc. Since Linux 5.1 AppArmor
// has its own directory (so that it can be stacked); before, the shared file is AppArmor's when
// AppArmor is the major module (runc falls back the same way).
function appArmorExecAttr(): string {
  return fs.existsSync('/proc/self/attr/apparmor/exec') ? 'self/attr/apparmor/exec' : 'self/attr/exec';
}

// The interpreter writes only to the file itself, on the procfs at /proc, reached without
// crossing a mount: a file bound over it (a volume, or another procfs file) would take the
// label, run the process unconfined and perhaps change something else (runc's CVE-2019-16884,
// CVE-2025-52881). It fails with EXDEV otherwise.
const NOT_PROCFS = (file: string) => ({ EXDEV: `"/proc/${file}" is not the procfs's own file (something is mounted over it, or /proc is not a procfs), so the label cannot be set there` });

/**
 * The process's label steps (ops of `phase`), or a SpecError naming the field when the host
 * cannot apply one. `where` names the process object in messages ("config.json: config.process").
 */
export function labelOps(proc: Process, phase: 'p' | 'u', where: string): PlanOp[] {
  const ops: PlanOp[] = [];
  const profile = proc.apparmorProfile ?? '';
  if (profile !== '') {
    if (!appArmorEnabled()) {
      throw new SpecError(`${where}.apparmorProfile: "${profile}" cannot be applied: AppArmor is not enabled on this host (the container would run unconfined)`);
    }
    const file = appArmorExecAttr();
    ops.push({ op: `${phase}-write-proc`, args: [file, `exec ${profile}`], description: `set the AppArmor profile "${profile}"`, hints: {
      ...NOT_PROCFS(file),
      ENOENT: `the AppArmor profile "${profile}" is not loaded (or "/proc/${file}" is missing)`,
      EACCES: `the AppArmor profile "${profile}" cannot be entered from this one`,
    } });
  }
  const label = proc.selinuxLabel ?? '';
  if (label !== '') {
    if (!selinuxEnabled()) {
      throw new SpecError(`${where}.selinuxLabel: "${label}" cannot be applied: SELinux is not enabled on this host (the container would run unconfined)`);
    }
    const file = 'self/attr/exec';
    ops.push({ op: `${phase}-write-proc`, args: [file, label], description: `set the SELinux label "${label}"`, hints: {
      ...NOT_PROCFS(file),
      EINVAL: `"${label}" is not a valid SELinux context here`,
    } });
  }
  return ops;
}

/** linux.mountLabel, checked: undefined when there is none. */
export function mountLabelOf(mountLabel: string | undefined, where: string): string | undefined {
  if (mountLabel === undefined || mountLabel === '') return undefined;
  if (!selinuxEnabled()) {
    throw new SpecError(`${where}.mountLabel: "${mountLabel}" cannot be applied: SELinux is not enabled on this host`);
  }
  if (mountLabel.includes('"')) throw new SpecError(`${where}.mountLabel: "${mountLabel}" has a double quote`);
  return mountLabel;
}

/** A mount's data with the SELinux context option added (runc's label.FormatMountLabel). */
export function withMountLabel(data: string, mountLabel: string | undefined): string {
  if (mountLabel === undefined) return data;
  const context = `context="${mountLabel}"`;
  return data === '' ? context : `${data},${context}`;
}
