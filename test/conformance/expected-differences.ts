// The ONE place for differences between runcell and runc that are not bugs. Each comes from
// runcell's process model (/work/shared/design.md): the container's init is pid 1 of the
// sandbox's pid namespace, the user's process runs under it as pid 1 of a nested pid namespace
// of its own, and /proc is mounted from inside that nested namespace (so that it shows the
// user's process as pid 1, as under runc). Anything else that differs from runc is a bug.
//
// An expected difference is an adjustment of runcell's report, made before the comparison,
// that removes exactly the structure the process model adds and nothing else; it names itself
// and its reason. It applies only where that structure is present.
import type { ProbeMount, ProbeReport } from './compare';

export interface ExpectedDifference {
  name: string;
  reason: string;
  /** runcell's report without the difference, or null when the report does not show it. */
  adjust(runcell: ProbeReport): ProbeReport | null;
}

export const EXPECTED_DIFFERENCES: readonly ExpectedDifference[] = [
  {
    name: 'a procfs under /proc in a user namespace',
    reason: 'In a new user namespace the kernel mounts a procfs only where a fully visible one is already mounted '
      + '(mount_too_revealing), and after pivot_root there is none. runc mounts /proc from the container\'s only pid '
      + 'namespace before pivot_root; runcell\'s /proc must come from the user\'s nested pid namespace, which exists only '
      + 'after pivot_root, so the init mounts a procfs on /proc first and the user\'s process mounts its own over it. '
      + 'The lower one is covered entirely and shows only as an extra line of mountinfo.',
    adjust(runcell) {
      if (!Array.isArray(runcell.mounts)) return null;
      const mounts = runcell.mounts;
      const helper = mounts.find((m) => m.fsType === 'proc' && m.mountPoint === '/proc'
        && mounts.some((top) => top.parent === m.id && top.fsType === 'proc' && top.mountPoint === '/proc'));
      if (helper === undefined) return null;
      const adjusted: ProbeMount[] = mounts.filter((m) => m !== helper)
        .map((m) => (m.parent === helper.id ? { ...m, parent: helper.parent } : m));
      return { ...runcell, mounts: adjusted };
    },
  },
];

/** runcell's report with every expected difference taken out, and the names of those applied. */
export function withoutExpectedDifferences(runcell: ProbeReport): { report: ProbeReport; applied: string[] } {
  let report = runcell;
  const applied: string[] = [];
  for (const expected of EXPECTED_DIFFERENCES) {
    const adjusted = expected.adjust(report);
    if (adjusted !== null) {
      report = adjusted;
      applied.push(expected.name);
    }
  }
  return { report, applied };
}
