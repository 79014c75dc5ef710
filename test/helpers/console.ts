// A terminal receiver for --console-socket tests: Node cannot receive descriptors, so a Python
// program takes the master (as conmon does), types into it and prints what comes back.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { PROJECT_ROOT } from './env';

/** Listens on `socketPath`; `output` is the receiver's report once the terminal closes. */
export function consoleReceiver(socketPath: string, typed: string): { listening: Promise<void>; output: Promise<string> } {
  const child = spawn('python3', [path.join(PROJECT_ROOT, 'test/helpers/console-receiver.py'), socketPath, typed], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  let onListening: () => void;
  const listening = new Promise<void>((resolve) => (onListening = resolve));
  child.stdout!.on('data', (chunk) => {
    text += chunk;
    if (text.includes('listening')) onListening();
  });
  const output = new Promise<string>((resolve) => child.once('exit', () => resolve(text)));
  return { listening, output };
}
