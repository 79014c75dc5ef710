// The runcell-init that the gofer, the init and the exec helper run: never the host's file
// itself. Until it execs, a process of ours is reachable from a container through
// /proc/PID/exe (an exec'd process racing its execve; an init in a pid namespace the container
// shares), and a descriptor of that file, reopened for writing once the process has moved on
// to the container's program, overwrites the runtime the host runs next (CVE-2019-5736; only
// ETXTBSY stopped a write while the file was still running). runc executes a sealed memfd copy
// of itself. We choose, once per process (every container it starts shares the result):
//   - "bind" where we may mount (root): a read-only clone of the file's mount, attached
//     nowhere (~50 us). No copy: a container's gofer and init share the host file's page cache,
//     where a copy (~0.9 MB, ~0.7 ms) stays in shared memory for as long as each container
//     lives (the init and the gofer together are promised under a megabyte). A write through
//     /proc/PID/exe meets EROFS; making that mount writable again takes CAP_SYS_ADMIN over its
//     mount namespace, which belongs to the host's user namespace: a container with that owns
//     the host anyway. (/proc/PID/exe then reads "/", the root of that one-file mount.)
//   - "memfd" where we may not (rootless: EPERM; ENOSYS before Linux 5.12): a memfd copy,
//     sealed (F_SEAL_WRITE, GROW, SHRINK and SEAL): nobody can change it, not even root.
// The descriptor is close-on-exec: the process we spawn executes it by the path of our own
// /proc/PID/fd entry (a child's own descriptor of that number may be replaced by its stdio).
import { isErrno } from '../sys/errno';
import { native } from '../sys/native';
import { initProgram } from '../paths';

export type SealKind = 'bind' | 'memfd';

export interface InitExecutable {
  /** What to execute: /proc/<this process>/fd/<fd>. */
  file: string;
  /** argv[0] (and the process name): runcell-init, as when it ran from its own path. */
  argv0: string;
  kind: SealKind;
}

let cached: InitExecutable | undefined;

/** The executable for runcell-init's processes, made on first use and kept. */
export function initExecutable(): InitExecutable {
  if (cached !== undefined) return cached;
  try {
    cached = sealedInit('bind');
  } catch (error) {
    if (!isErrno(error, 'EPERM', 'ENOSYS', 'EINVAL')) throw error;
    cached = sealedInit('memfd');
  }
  return cached;
}

/** A new descriptor of runcell-init of the given kind (initExecutable() keeps one). */
export function sealedInit(kind: SealKind): InitExecutable {
  const program = initProgram();
  const fd = kind === 'bind' ? native.readonlyBind(program) : native.sealedCopy(program, 'runcell-init');
  return { file: `/proc/${process.pid}/fd/${fd}`, argv0: 'runcell-init', kind };
}
