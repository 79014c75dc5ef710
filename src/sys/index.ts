// The system-call layer: typed 1:1 wrappers over the addon, errno-exact, no policy.
export { ErrnoError, isErrno } from './errno';
export { flock, tryFlock, flockAsync, LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN } from './flock';
export {
  kill, waitpid, waitForExit, reapChild, processStat, processStartTime, isProcessAlive, parseSignal, signalName, signalProcess,
  WNOHANG, WUNTRACED, WCONTINUED, WALL,
} from './process';
export type { ProcStat, WaitStatus } from './process';
export { setOOMScoreAdj } from './oom';
