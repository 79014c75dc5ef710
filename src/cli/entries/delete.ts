// Entry point of dist/cli-delete.js: `delete`, bundled with its modules alone (command-line.ts,
// SMALL_BUNDLES): the container's teardown, without create's launch plan, rootfs and seccomp.
import { commandOf } from '../command-line';
import { runAndSetExitCode } from '../program';
import * as deleteCommand from '../commands/delete';

export function run(argv: readonly string[]): void {
  // The loader sends nothing else here.
  if (commandOf(argv) !== 'delete') throw new Error(`cli-delete: no command ${commandOf(argv)}`);
  runAndSetExitCode(argv, [deleteCommand.register]);
}
