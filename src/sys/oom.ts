import { native } from './native';
import { validateInteger } from './validate';

/**
 * Writes /proc/PID/oom_score_adj. True when written; false when the process is already gone
 * (ENOENT on open, ESRCH on write: it raced with its exit). Other failures throw an
 * ErrnoError: EINVAL outside -1000..1000, EACCES when lowering the score below the process's
 * minimum without CAP_SYS_RESOURCE.
 */
export function setOOMScoreAdj(pid: number, score: number): boolean {
  return native.setOOMScoreAdj(validateInteger(pid, 'pid', 1), validateInteger(score, 'score'));
}
