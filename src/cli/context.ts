// What every command gets from the global options.
import type { CliLog } from './log';

export interface Context {
  /** --root: the state directory. */
  root: string;
  /** True when --root was given rather than defaulted. */
  rootGiven: boolean;
  log: CliLog;
}
