// Entry point of dist/cli-start.js: `start`, bundled with its modules alone (command-line.ts,
// SMALL_BUNDLES): the start gate, without create's launch plan, rootfs, seccomp and gofer.
import { commandOf } from '../command-line';
import { runAndSetExitCode } from '../program';
import * as startCommand from '../commands/start';

export function run(argv: readonly string[]): void {
  // The loader sends nothing else here.
  if (commandOf(argv) !== 'start') throw new Error(`cli-start: no command ${commandOf(argv)}`);
  runAndSetExitCode(argv, [startCommand.register]);
}
