// A foreground run or exec stands for its process: the signals sent to us are its.
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** Forwards our signals to `send` until the returned function is called. */
export function forwardSignals(send: (signal: NodeJS.Signals) => void): () => void {
  for (const signal of FORWARDED) process.on(signal, send);
  return () => {
    for (const signal of FORWARDED) process.off(signal, send);
  };
}
