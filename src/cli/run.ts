// Entry point of the whole CLI's bundle (dist/cli-main.js), which dist/cli.js (loader.ts)
// loads with its V8 code cache and then runs.
import { registrationsFor } from './main';
import { runAndSetExitCode } from './program';

export function run(argv: readonly string[]): void {
  runAndSetExitCode(argv, registrationsFor(argv));
}
