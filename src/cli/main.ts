// Every command of the CLI: what `runcell --help` lists, and the module of each command.
import { commandOf } from './command-line';
import { runProgram, type Register } from './program';
import * as benchCommand from './commands/bench';
import * as cgroupCommands from './commands/cgroup';
import * as checkpointCommands from './commands/checkpoint';
import * as deleteCommand from './commands/delete';
import * as demoCommand from './commands/demo';
import * as execCommand from './commands/exec';
import * as featuresCommand from './commands/features';
import * as killCommand from './commands/kill';
import * as lifecycleCommands from './commands/lifecycle';
import * as listCommand from './commands/list';
import * as pauseCommands from './commands/pause';
import * as startCommand from './commands/start';
import * as specCommand from './commands/spec';
import * as stateCommand from './commands/state';
import * as waitCommand from './commands/wait';

/** Runs the CLI on `argv` (as process.argv: node and script first) and returns the exit code. */
export function main(argv: readonly string[]): Promise<number> {
  return runProgram(argv, registrationsFor(argv));
}

// In the order of `runcell --help`.
const ALL_COMMANDS: readonly Register[] = [
  lifecycleCommands.registerCreate, startCommand.register, lifecycleCommands.registerRun, killCommand.register,
  waitCommand.register, execCommand.register, checkpointCommands.register,
  pauseCommands.register, cgroupCommands.register, featuresCommand.register,
  listCommand.register, stateCommand.register, deleteCommand.register, specCommand.register,
  benchCommand.register, demoCommand.register,
];

// The module that registers each command. Building commander's tree of every command and its
// options costs more than most commands' own work, so a command line that names one of these
// registers only its module; anything else (help, a typo, a command missing here) gets them all.
const COMMAND_MODULES: Readonly<Record<string, Register>> = {
  create: lifecycleCommands.registerCreate, start: startCommand.register, run: lifecycleCommands.registerRun,
  kill: killCommand.register, wait: waitCommand.register,
  exec: execCommand.register, checkpoint: checkpointCommands.register, restore: checkpointCommands.register,
  pause: pauseCommands.register, resume: pauseCommands.register, ps: pauseCommands.register,
  update: cgroupCommands.register, events: cgroupCommands.register,
  features: featuresCommand.register, list: listCommand.register, state: stateCommand.register,
  delete: deleteCommand.register, spec: specCommand.register, bench: benchCommand.register, demo: demoCommand.register,
};

/** What to register for `argv`: the named command's module, nothing for --version alone, else all. */
export function registrationsFor(argv: readonly string[]): readonly Register[] {
  const command = commandOf(argv);
  if (command === null) return [];
  return command !== undefined && Object.hasOwn(COMMAND_MODULES, command) ? [COMMAND_MODULES[command]] : ALL_COMMANDS;
}
