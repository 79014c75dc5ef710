// Container status and its state machine, as in runsc (runsc/container/status.go).
//
// "creating: the container is being created" ... "stopped: the container process has exited"
// (runtime-spec, runtime.md "State"). `paused` is a local status, not part of the spec; runc
// and runsc report it and so do we.
import { ContainerError } from './errors';

export const Status = {
  Creating: 'creating',
  Created: 'created',
  Running: 'running',
  Paused: 'paused',
  Stopped: 'stopped',
} as const;
export type Status = (typeof Status)[keyof typeof Status];

export const ALL_STATUSES: readonly Status[] = Object.values(Status);

// For each status, the statuses it may be entered from. Nothing enters `creating`: it is
// where a container begins. Destroy is idempotent, hence stopped -> stopped. A paused
// container is thawed (-> running) before it is stopped.
const ENTERED_FROM: Record<Status, readonly Status[]> = {
  creating: [],
  created: ['creating'],
  running: ['created', 'paused'],
  paused: ['running'],
  stopped: ['creating', 'created', 'running', 'stopped'],
};

export function isStatus(value: unknown): value is Status {
  return typeof value === 'string' && (ALL_STATUSES as readonly string[]).includes(value);
}

export function canTransition(from: Status, to: Status): boolean {
  return ENTERED_FROM[to].includes(from);
}

/**
 * The next status after a legal transition. An illegal one is a bug in the caller, not a user
 * error, so it throws ERR_INVALID_TRANSITION and nothing is written.
 */
export function transition(from: Status, to: Status): Status {
  if (!canTransition(from, to)) {
    throw new ContainerError('ERR_INVALID_TRANSITION', `invalid state transition from ${from} to ${to}`);
  }
  return to;
}

/** Refuses an action in a status it does not apply to: "cannot start container "x" in state running". */
export function requireStatus(action: string, id: string, current: Status, ...allowed: Status[]): void {
  if (!allowed.includes(current)) throw ContainerError.invalidState(action, id, current);
}
