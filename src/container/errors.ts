// Runtime failures with stable codes (once published, a code never changes meaning) and
// messages that name the container and the action. Where callers grep runc's wording, we use
// it: containerd's shim matches "does not exist" and "container not running".

export type ContainerErrorCode =
  | 'ERR_INVALID_ID'
  | 'ERR_CONTAINER_NOT_FOUND'
  | 'ERR_CONTAINER_EXISTS'
  | 'ERR_AMBIGUOUS_ID'
  | 'ERR_INVALID_STATE'
  | 'ERR_STATE_CORRUPT'
  | 'ERR_STATE_NOT_LOCKED'
  | 'ERR_INVALID_TRANSITION'
  | 'ERR_CREATE_FAILED'
  | 'ERR_START_FAILED'
  | 'ERR_EXEC_FAILED'
  | 'ERR_OOM_SCORE'
  /** systemd (the cgroup driver of --systemd-cgroup) is missing, unreachable, or refused. */
  | 'ERR_SYSTEMD'
  /** CRIU (checkpoint, restore) is missing, too old, or failed to run. */
  | 'ERR_CRIU'
  | 'ERR_CHECKPOINT_FAILED'
  | 'ERR_RESTORE_FAILED';

export class ContainerError extends Error {
  readonly code: ContainerErrorCode;
  /** The container (or the id as given) the error is about. */
  readonly containerId?: string;

  constructor(code: ContainerErrorCode, message: string, options: { containerId?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.containerId !== undefined) this.containerId = options.containerId;
  }

  static invalidId(id: string, reason: string): ContainerError {
    return new ContainerError('ERR_INVALID_ID', `invalid container id ${JSON.stringify(id)}: ${reason}`, { containerId: id });
  }

  static notFound(id: string, cause?: unknown): ContainerError {
    return new ContainerError('ERR_CONTAINER_NOT_FOUND', `container ${JSON.stringify(id)} does not exist`, { containerId: id, cause });
  }

  static exists(id: string): ContainerError {
    return new ContainerError('ERR_CONTAINER_EXISTS', `container ${JSON.stringify(id)} already exists`, { containerId: id });
  }

  static ambiguous(id: string, candidates: readonly string[]): ContainerError {
    const names = candidates.map((c) => JSON.stringify(c)).join(', ');
    return new ContainerError('ERR_AMBIGUOUS_ID',
      `container id ${JSON.stringify(id)} is ambiguous: it could refer to ${names}`, { containerId: id });
  }

  static invalidState(action: string, id: string, status: string): ContainerError {
    return new ContainerError('ERR_INVALID_STATE',
      `cannot ${action} container ${JSON.stringify(id)} in state ${status}`, { containerId: id });
  }

  static corrupt(id: string, path: string, cause: unknown): ContainerError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new ContainerError('ERR_STATE_CORRUPT',
      `state file of container ${JSON.stringify(id)} is damaged: '${path}': ${reason}`, { containerId: id, cause });
  }
}
