// What every command gets from the global options.
import type { CliLog } from './log';

export interface Context {
  /** --root: the state directory. */
  root: string;
  /** True when --root was given rather than defaulted. */
  rootGiven: boolean;
  /** --systemd-cgroup: create and run make the container's cgroup through systemd. */
  systemdCgroup: boolean;
  /** --rootless, resolved (auto: runc's rule, see container/rootless.ts). */
  rootless: boolean;
  /** --criu: the CRIU of checkpoint and restore (default: criu in PATH). */
  criu?: string;
  log: CliLog;
  /** Set by a command whose exit status is not simply success (run: the container's). */
  exitStatus?: number;
}
