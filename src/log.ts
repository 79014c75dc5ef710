// The library's logger: silent unless the embedding program installs one (the CLI installs
// its --log/--debug writer). The library never writes to stdout or stderr by itself.
export interface Logger {
  debug(message: string): void;
  warn(message: string): void;
}

const silent: Logger = { debug() {}, warn() {} };
let current: Logger = silent;

export function setLogger(logger: Logger | null): void {
  current = logger ?? silent;
}

export const log: Logger = {
  debug: (message) => current.debug(message),
  warn: (message) => current.warn(message),
};

/**
 * A debug line marking a step of a command with the time since this process started (Node's
 * process.uptime() * 1000), so that `--debug` shows where a command's time goes (issue 13).
 */
export function logPhase(what: string): void {
  if (current !== silent) current.debug(`${what} (+${(process.uptime() * 1000).toFixed(1)} ms)`);
}
