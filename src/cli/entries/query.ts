// Entry point of dist/cli-query.js: `state`, `list` and `--version`, the verbs that only read
// the root directory, bundled with their modules alone (command-line.ts, SMALL_BUNDLES).
import { commandOf } from '../command-line';
import { runAndSetExitCode, type Register } from '../program';
import * as listCommand from '../commands/list';
import * as stateCommand from '../commands/state';

const COMMAND_MODULES: Readonly<Record<string, Register>> = { state: stateCommand.register, list: listCommand.register };

export function run(argv: readonly string[]): void {
  const command = commandOf(argv);
  // The loader sends nothing else here; should it, that command is unknown to this bundle.
  if (typeof command === 'string' && !Object.hasOwn(COMMAND_MODULES, command)) throw new Error(`cli-query: no command ${command}`);
  runAndSetExitCode(argv, typeof command === 'string' ? [COMMAND_MODULES[command]] : []);
}
