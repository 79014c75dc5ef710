// Entry point of dist/cli-create.js: `create` and `run`, bundled with their modules alone
// (command-line.ts, SMALL_BUNDLES): the container's whole life, without the other commands.
import { commandOf } from '../command-line';
import { runAndSetExitCode, type Register } from '../program';
import * as lifecycleCommands from '../commands/lifecycle';

const COMMAND_MODULES: Readonly<Record<string, Register>> = { create: lifecycleCommands.registerCreate, run: lifecycleCommands.registerRun };

export function run(argv: readonly string[]): void {
  const command = commandOf(argv);
  // The loader sends nothing else here.
  if (typeof command !== 'string' || !Object.hasOwn(COMMAND_MODULES, command)) throw new Error(`cli-create: no command ${command}`);
  runAndSetExitCode(argv, [COMMAND_MODULES[command]]);
}
