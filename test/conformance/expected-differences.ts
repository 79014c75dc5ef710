// The ONE place for differences between runcell and runc that are not bugs. Each comes from
// runcell's process model (/work/shared/design.md): the container's init is pid 1 of the
// sandbox's pid namespace, the user's process runs under it as pid 1 of a nested pid namespace
// of its own, and /proc is mounted from inside that nested namespace (so that it shows the
// user's process as pid 1, as under runc). Anything else that differs from runc is a bug.
//
// An expected difference is an adjustment of runcell's report, made before the comparison,
// that removes exactly the structure the process model adds and nothing else; it names itself
// and its reason. It applies only where that structure is present.
import type { Difference, ProbeMount, ProbeReport } from './compare';

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

/**
 * Differences runcell makes on purpose, in every entry where they show: choices of what a
 * container may see or do, each with its reason. Unlike the process model's, they are matched
 * in the comparison's output (both sides' values), and each explains exactly the fields named.
 */
export interface DeliberateDifference {
  name: string;
  reason: string;
  explains(difference: Difference): boolean;
}

const CGROUP_FS = /^mounts\[\/sys\/fs\/cgroup(\/[^\]#]+)?#0\]/;
// The hierarchies one side binds and the other does not: runc's name=systemd, runcell's unified.
const ONE_SIDED_HIERARCHY = /^mounts\[\/sys\/fs\/cgroup\/(systemd|unified)#0\]$/;
const withoutOneSided = (list: string) => list.split(' ').filter((m) => !/^\/sys\/fs\/cgroup\/(systemd|unified)#0$/.test(m)).join(' ');
const entriesWithout = (json: string) => JSON.stringify((JSON.parse(json) as string[]).filter((e) => e !== 'systemd' && e !== 'unified'));
const readOnly = (runc: string, runcell: string) => runc.replace(/^rw(,|$)/, 'ro$1') === runcell;

export const DELIBERATE_DIFFERENCES: readonly DeliberateDifference[] = [
  {
    name: 'the cgroup view is read-only all the way down',
    reason: 'A container must not raise its own limits (pids.max, memory.max), freeze or move cgroups: runcell mounts '
      + '/sys/fs/cgroup read-only whatever the options say (src/container/cgroup-view.ts), where runc 1.1.5 makes the '
      + 'tmpfs read-write (mode 0555 rather than a read-only mount) and binds the hierarchies as the options ask. A '
      + 'write there is EROFS, not EACCES.',
    explains: (d) => (CGROUP_FS.test(d.field) && d.field.endsWith('.options') && readOnly(d.runc, d.runcell))
      || (d.field === 'paths[/sys/fs/cgroup].flags' && JSON.stringify(JSON.parse(d.runcell).filter((f: string) => f !== 'ro')) === d.runc)
      || (d.field === 'paths[/sys/fs/cgroup].write' && d.runc === '"EACCES"' && d.runcell === '"EROFS"')
      || (d.field === 'paths[/sys/fs/cgroup].lstat.mode' && d.runc === '"0555"' && d.runcell === '"0755"'),
  },
  {
    name: 'the hierarchies runcell has a cgroup in',
    reason: 'runcell makes its cgroup in every controller hierarchy and, on a hybrid host, in the cgroup2 one, which it '
      + 'shows as "unified" (runc 1.1.5 leaves it out). It makes none in the named "systemd" hierarchy (no controller: '
      + 'the container\'s directory there would be its caller\'s, shared with host processes), which runc binds.',
    explains: (d) => ONE_SIDED_HIERARCHY.test(d.field)
      || (d.field === 'paths[/sys/fs/cgroup].entries' && entriesWithout(d.runc) === entriesWithout(d.runcell))
      || (d.field === 'mounts.order' && withoutOneSided(d.runc) === withoutOneSided(d.runcell)),
  },
];

/** The differences left once the deliberate ones are taken out. */
export function withoutDeliberateDifferences(differences: readonly Difference[]): Difference[] {
  return differences.filter((d) => !DELIBERATE_DIFFERENCES.some((deliberate) => deliberate.explains(d)));
}
