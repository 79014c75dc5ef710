// Entry point of dist/cli-start.js: `start`, bundled with its modules alone (command-line.ts,
// SMALL_BUNDLES): the library's start, without the other commands and their options.
import { commandOf } from '../command-line';
import { runAndSetExitCode } from '../program';
import * as startCommand from '../commands/start';

export function run(argv: readonly string[]): void {
  // The loader sends nothing else here.
  if (commandOf(argv) !== 'start') throw new Error(`cli-start: no command ${commandOf(argv)}`);
  runAndSetExitCode(argv, [startCommand.register]);
}
