// Entry point of dist/cli-exec.js: `exec`, bundled with its modules alone (command-line.ts,
// SMALL_BUNDLES): what a CRI probe runs, often, without create's and the other verbs' modules.
import { commandOf } from '../command-line';
import { runAndSetExitCode } from '../program';
import * as execCommand from '../commands/exec';

export function run(argv: readonly string[]): void {
  // The loader sends nothing else here.
  if (commandOf(argv) !== 'exec') throw new Error(`cli-exec: no command ${commandOf(argv)}`);
  runAndSetExitCode(argv, [execCommand.register]);
}
