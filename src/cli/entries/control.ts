// Entry point of dist/cli-control.js: `kill`, `pause`, `resume` and `ps`, the verbs that act on
// a container that exists, bundled with their modules alone (command-line.ts, SMALL_BUNDLES).
import { commandOf } from '../command-line';
import { runAndSetExitCode, type Register } from '../program';
import * as killCommand from '../commands/kill';
import * as pauseCommands from '../commands/pause';

const COMMAND_MODULES: Readonly<Record<string, Register>> = {
  kill: killCommand.register, pause: pauseCommands.register, resume: pauseCommands.register, ps: pauseCommands.register,
};

export function run(argv: readonly string[]): void {
  const command = commandOf(argv);
  // The loader sends nothing else here.
  if (typeof command !== 'string' || !Object.hasOwn(COMMAND_MODULES, command)) throw new Error(`cli-control: no command ${command}`);
  runAndSetExitCode(argv, [COMMAND_MODULES[command]]);
}
