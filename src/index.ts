// runcell as a library: `require('runcell')` / `import ... from 'runcell'`.
export {
  ErrnoError, isErrno,
  flock, tryFlock, flockAsync, LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN,
  kill, waitpid, waitForExit, reapChild, processStat, processStartTime, isProcessAlive, parseSignal, signalName, signalProcess,
  WNOHANG, WUNTRACED, WCONTINUED, WALL,
  setOOMScoreAdj,
} from './sys';
export type { ProcStat, WaitStatus } from './sys';
export { ContainerError } from './container/errors';
export type { ContainerErrorCode } from './container/errors';
export { validateId, baseName, parseFileName, MAX_ID_LENGTH } from './container/id';
export type { FullId } from './container/id';
export { Status, ALL_STATUSES, canTransition, transition, requireStatus, isStatus } from './container/status';
export { StateFile, STATE_FILE_MODE, LOCK_FILE_MODE, ROOT_DIR_MODE, UntrustedFileError } from './container/state-file';
export type { LockMode } from './container/state-file';
export { Container, currentOwner } from './container/container';
export { DEFAULT_ROOT } from './container/defaults';
export type { DeleteOptions, ListResult } from './container/container';
export { RECORD_VERSION, observedStatus, ociState, validateRecord } from './container/record';
export type { ContainerRecord, OciState, ProcessIdentity } from './container/record';
export { defaultSpec } from './oci/default-spec';
export { setLogger } from './log';
export type { Logger } from './log';
export { VERSION, COMMIT, OCI_VERSION } from './version';
export { benchLocks, describePlan } from './bench/locks';
export { formatLockBenchReport } from './bench/report';
export { renderLockBenchSvg } from './bench/plot';
export { WORKLOADS, SPREADS, LOCK_MODES, DEFAULT_LOCK_BENCH_OPTIONS } from './bench/types';
export type {
  Workload, Spread, BenchLockMode, Impl, LockBenchOptions, LockBenchRun, LockBenchCheck, LockBenchReport, BenchProgress,
} from './bench/types';
export { createContainer, startContainer, killContainer, waitContainer, runContainer } from './container/lifecycle';
export { execContainer } from './container/exec';
export { checkpointContainer } from './container/checkpoint';
export type { CheckpointOptions, CriuFlags } from './container/checkpoint';
export { restoreContainer } from './container/restore';
export type { RestoreOptions } from './container/restore';
export { locateCriu, requiredCriuVersion } from './container/criu';
export type { CriuBinary } from './container/criu';
export type { ExecOptions, ExecProcess } from './container/exec';
export { membershipOf } from './container/sandbox';
export type { SandboxMembership } from './container/sandbox';
export { sandboxOOMScore, adjustSandboxOOMScore } from './container/oom-score';
export type { CreateOptions, KillOptions, RunningContainer, ExitRecord } from './container/lifecycle';
export { loadSpec, validateSpec, validateProcess, SpecError } from './oci/spec';
export type { Spec, Process } from './oci/spec';
export { buildLaunchPlan, buildExecPlan, encodePlan, describeFailure } from './container/launch-plan';
export { runDemo } from './demo';
export type { DemoOptions } from './demo';
