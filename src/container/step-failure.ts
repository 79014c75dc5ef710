// How a failed step of runcell-init reads. Apart from launch-plan.ts so that what reports a
// step's failure without building a plan (the OOM score's write, start's answer) does not load
// the plan builder and its tables: delete's and kill's commands never build one (issue 13).
import { ErrnoError } from '../sys/errno';

/**
 * The message for a failed step, from its description (undefined: a step outside the plan):
 * `mount "proc" on "/proc": EPERM (operation not permitted)`.
 */
export function stepFailure(description: string | undefined, errno: number): string {
  // The interpreter reports a hook's non-zero exit as 1000 + its status.
  if (errno >= 1000) return `${description ?? 'a hook'}: exited with status ${errno - 1000}`;
  const error = new ErrnoError(errno, 'x');
  const text = error.message.slice(error.code.length + 2, error.message.lastIndexOf(', x'));
  return `${description ?? 'start the container'}: ${error.code} (${text})`;
}
