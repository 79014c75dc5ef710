// The messages between the CLI and runcell-init, one line each ("\n"-terminated), and the side
// file the gofer writes. Their C counterparts are in native/init/protocol.h: change both
// together.
//
// Create (`runcell-init gofer PLAN_FD REPORT_FD`):
//   CLI -> gofer, PLAN_FD:    the launch plan (launch-plan.ts), then in turn
//                             "cgroup" (systemd has put the init in its scope),
//                             "continue <state>" / "abort" (the runtime's hooks ran / failed),
//                             "commit" (the state is saved: the container may live on).
//   gofer -> CLI, REPORT_FD:  "cgroup <init pid>" (under the systemd driver, before the init runs),
//                             "hooks <init pid>" (the init waits before pivot_root),
//                             "ready <init pid>", or "error <step> <errno>".
// Start:
//   CLI -> gofer, the gate FIFO (<id>.gate):   "s<state>" (state: for startContainer hooks, may be empty).
//   gofer -> CLI, the ready FIFO (<id>.ready): "started", or "error <step> <errno>".
// Exec (`runcell-init exec PLAN_FD REPORT_FD`):
//   CLI -> helper, PLAN_FD:   the plan, then EOF.
//   helper -> CLI, REPORT_FD: "started <pid>", or "error <step> <errno> [<pid of the child to reap>]".
// Steps: an index into the plan's ops, or -1 (the native side's own setup) or -2 (the clone).
//
// Side file: <id>.exit, written by the gofer (atomically: <id>.exittmp, renamed) once the init
// has exited: {"exitStatus": N, "exited": "<ISO 8601 UTC>"}.

/** A report from runcell-init to the CLI: a line on a report descriptor or the ready FIFO. */
export type Report =
  /** Under the systemd driver: the init is cloned and waits to be put in the unit's cgroup. */
  | { type: 'cgroup'; pid: number }
  /** The init waits before pivot_root for the runtime's prestart/createRuntime hooks. */
  | { type: 'hooks'; pid: number }
  /** The init waits at the start gate. */
  | { type: 'ready'; pid: number }
  /** The user's process runs: with its pid from the exec helper, without from the gofer. */
  | { type: 'started'; pid?: number }
  /** Step `step` failed with `errno`; `child`: an exec'd process that exited, ours to reap. */
  | { type: 'error'; step: number; errno: number; child?: number };

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const PID = '(\\d+)';
const REPORT_FORMS: [RegExp, (m: RegExpExecArray) => Report][] = [
  [new RegExp(`^cgroup ${PID}$`), (m) => ({ type: 'cgroup', pid: Number(m[1]) })],
  [new RegExp(`^hooks ${PID}$`), (m) => ({ type: 'hooks', pid: Number(m[1]) })],
  [new RegExp(`^ready ${PID}$`), (m) => ({ type: 'ready', pid: Number(m[1]) })],
  [/^started$/, () => ({ type: 'started' })],
  [new RegExp(`^started ${PID}$`), (m) => ({ type: 'started', pid: Number(m[1]) })],
  [new RegExp(`^error (-?\\d+) (\\d+)(?: ${PID})?$`), (m) => ({
    type: 'error', step: Number(m[1]), errno: Number(m[2]), ...(m[3] === undefined ? {} : { child: Number(m[3]) }),
  })],
];

/** Parses one report line (without its newline); a line of no known form is a ProtocolError. */
export function parseReport(line: string): Report {
  for (const [form, build] of REPORT_FORMS) {
    const match = form.exec(line);
    if (match !== null) return build(match);
  }
  const shown = line.length > 80 ? `${line.slice(0, 80)}...` : line;
  throw new ProtocolError(`runcell-init sent a malformed report: ${JSON.stringify(shown)}`);
}

/** The line of a report, as runcell-init writes it (without the newline). */
export function formatReport(report: Report): string {
  switch (report.type) {
    case 'cgroup':
    case 'hooks':
    case 'ready':
      return `${report.type} ${report.pid}`;
    case 'started':
      return report.pid === undefined ? 'started' : `started ${report.pid}`;
    case 'error':
      return `error ${report.step} ${report.errno}${report.child === undefined ? '' : ` ${report.child}`}`;
  }
}

// The CLI's messages, each with its newline.

/** To the gofer on PLAN_FD: the init is in the systemd unit's cgroup, it may run. */
export function formatCgroupPlaced(): string {
  return 'cgroup\n';
}

/** To the gofer on PLAN_FD: the runtime's hooks ran; `state` (JSON, no newline) is for createContainer hooks. */
export function formatContinue(state: string): string {
  if (state.includes('\n')) throw new ProtocolError('the hook state must be one line');
  return `continue ${state}\n`;
}

/** To the gofer on PLAN_FD: the runtime's hooks failed, the init goes. */
export function formatAbort(): string {
  return 'abort\n';
}

/** To the gofer on PLAN_FD: the container's state is saved, it may outlive the CLI. */
export function formatCommit(): string {
  return 'commit\n';
}

/** To the gofer on the gate FIFO: start; `state` (JSON, or empty) is for startContainer hooks. */
export function formatStartGate(state: string, processState?: string): string {
  if (state.includes('\n') || processState?.includes('\n')) throw new ProtocolError('the hook state must be one line');
  // JSON never holds a raw tab: the process state for a seccomp agent follows one.
  if (state.includes('\t') || processState?.includes('\t')) throw new ProtocolError('the hook state must hold no tab');
  return processState === undefined ? `s${state}\n` : `s${state}\t${processState}\n`;
}

/** <id>.exit: the init's exit status (code, or 128+signal), written by the gofer. */
export interface ExitRecord {
  exitStatus: number;
  exited: string;
}

/** Parses the text of an <id>.exit file. */
export function parseExitRecord(text: string): ExitRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError(`the exit record is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
  const record = value as Partial<ExitRecord> | null;
  if (record === null || typeof record !== 'object' || !Number.isInteger(record.exitStatus) || typeof record.exited !== 'string') {
    throw new ProtocolError(`the exit record has no exitStatus and exited: ${JSON.stringify(text.slice(0, 80))}`);
  }
  return { exitStatus: record.exitStatus!, exited: record.exited };
}
