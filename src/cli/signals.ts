// A foreground run or exec stands for its process: the signals sent to us are its.
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/**
 * Forwards our signals to `send` until the returned function is called. With a terminal of its
 * own (cli/terminal.ts), the process gets SIGWINCH from its terminal when ours is resized.
 */
export function forwardSignals(send: (signal: NodeJS.Signals) => void, ownTerminal = false): () => void {
  const forwarded = ownTerminal ? FORWARDED.filter((signal) => signal !== 'SIGWINCH') : FORWARDED;
  for (const signal of forwarded) process.on(signal, send);
  return () => {
    for (const signal of forwarded) process.off(signal, send);
  };
}
