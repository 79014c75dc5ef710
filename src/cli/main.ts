// The runcell command line: runc's global options and commands, each a few lines over the
// library. Global options come before the command, as with runc (`runcell --root R state ID`).
import { Command, CommanderError, Option } from 'commander';
import { defaultRootDir, isRootless, ROOTLESS_SETTINGS, type RootlessSetting } from '../container/rootless';
import { setLogger } from '../log';
import { COMMIT, OCI_VERSION, VERSION } from '../version';
import type { Context } from './context';
import { ReportedFailure } from './exit';
import { CliLog, LOG_FORMATS, type LogFormat } from './log';
import * as benchCommand from './commands/bench';
import * as cgroupCommands from './commands/cgroup';
import * as deleteCommand from './commands/delete';
import * as demoCommand from './commands/demo';
import * as execCommand from './commands/exec';
import * as featuresCommand from './commands/features';
import * as lifecycleCommands from './commands/lifecycle';
import * as listCommand from './commands/list';
import * as specCommand from './commands/spec';
import * as stateCommand from './commands/state';
import { writeErr, writeOut } from './output';

interface GlobalOptions {
  root?: string;
  log?: string;
  logFormat: LogFormat;
  debug?: boolean;
  systemdCgroup?: boolean;
  rootless: RootlessSetting;
}

/** Runs the CLI on `argv` (as process.argv: node and script first) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let context: Context | undefined;
  const program = new Command('runcell');
  // The logger follows the global options as parsed so far, so that an error found while
  // parsing still reaches --log.
  const getContext = (): Context => {
    if (context === undefined) {
      const options = program.opts<GlobalOptions>();
      const log = new CliLog({
        file: options.log,
        format: LOG_FORMATS.includes(options.logFormat) ? options.logFormat : 'text',
        debug: options.debug === true,
      });
      setLogger(log);
      const rootless = isRootless(ROOTLESS_SETTINGS.includes(options.rootless) ? options.rootless : 'auto');
      let root = options.root;
      context = {
        // The default is found when a command first needs it: `spec` or `features` need none, and
        // a user without XDG_RUNTIME_DIR may still run them.
        get root() {
          root ??= defaultRootDir();
          return root;
        },
        rootGiven: options.root !== undefined,
        systemdCgroup: options.systemdCgroup === true,
        rootless,
        log,
      };
    }
    return context;
  };

  program
    .description('an OCI container runtime: runsc\'s container lifecycle over Linux namespaces and cgroups')
    .enablePositionalOptions()
    .option('--root <dir>', 'directory of container state (should be on tmpfs; default /run/runcell, or $XDG_RUNTIME_DIR/runcell for a user other than root)')
    .option('--log <file>', 'append log lines (and every error) to this file instead of stderr')
    .addOption(new Option('--log-format <format>', 'format of log lines').choices(LOG_FORMATS).default('text'))
    .option('--debug', 'log debug messages')
    .option('--systemd-cgroup', 'make each new container\'s cgroup a systemd scope (linux.cgroupsPath "slice:prefix:name")')
    .addOption(new Option('--rootless <value>', 'work as a user without privileges: no cgroup unless one can be written, limits refused without one ' +
      '(auto: when not the host\'s root)').choices(ROOTLESS_SETTINGS).default('auto'))
    .version(`runcell version ${VERSION}\ncommit: ${COMMIT}\nspec: ${OCI_VERSION}`, '-v, --version', 'print the version')
    .exitOverride()
    .configureOutput({
      writeOut,
      writeErr,
      // Commander's own usage errors ("error: unknown option '--x'") go through our reporting.
      outputError: (message) => getContext().log.error(message.replace(/^error: /, '').trim()),
    })
    .hook('preAction', () => {
      getContext().log.debug(`runcell ${argv.slice(2).join(' ')}`);
    });

  for (const register of registrationsFor(argv)) register(program, getContext);

  try {
    await program.parseAsync(argv as string[]);
    return context?.exitStatus ?? 0;
  } catch (error) {
    return exitCodeOf(error, getContext);
  } finally {
    context?.log.close();
    setLogger(null);
  }
}

type Register = (program: Command, context: () => Context) => void;

// In the order of `runcell --help`.
const ALL_COMMANDS: readonly Register[] = [
  lifecycleCommands.register, execCommand.register, cgroupCommands.register, featuresCommand.register,
  listCommand.register, stateCommand.register, deleteCommand.register, specCommand.register,
  benchCommand.register, demoCommand.register,
];

// The module that registers each command. Building commander's tree of every command and its
// options costs more than most commands' own work, so a command line that names one of these
// registers only its module; anything else (help, a typo, a command missing here) gets them all.
const COMMAND_MODULES: Readonly<Record<string, Register>> = {
  create: lifecycleCommands.register, start: lifecycleCommands.register, run: lifecycleCommands.register,
  kill: lifecycleCommands.register, wait: lifecycleCommands.register,
  exec: execCommand.register,
  pause: cgroupCommands.register, resume: cgroupCommands.register, ps: cgroupCommands.register,
  update: cgroupCommands.register, events: cgroupCommands.register,
  features: featuresCommand.register, list: listCommand.register, state: stateCommand.register,
  delete: deleteCommand.register, spec: specCommand.register, bench: benchCommand.register, demo: demoCommand.register,
};

// The global options (registered above): those that take a value, as `--opt value` or `--opt=value`.
const GLOBALS_WITH_VALUE = ['--root', '--log', '--log-format', '--rootless'];
const GLOBAL_FLAGS = ['--debug', '--systemd-cgroup'];

/** What to register for `argv`: the named command's module, nothing for --version alone, else all. */
export function registrationsFor(argv: readonly string[]): readonly Register[] {
  let version = false;
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i];
    if (GLOBALS_WITH_VALUE.includes(arg)) i++;
    else if (arg === '-v' || arg === '--version') version = true;
    else if (arg.startsWith('-')) {
      if (!GLOBAL_FLAGS.includes(arg) && !GLOBALS_WITH_VALUE.includes(arg.split('=', 1)[0])) return ALL_COMMANDS; // help, or a usage error
    } else {
      return Object.hasOwn(COMMAND_MODULES, arg) ? [COMMAND_MODULES[arg]] : ALL_COMMANDS;
    }
  }
  return version ? [] : ALL_COMMANDS;
}

function exitCodeOf(error: unknown, getContext: () => Context): number {
  if (error instanceof CommanderError) return error.exitCode; // already reported by commander
  if (error instanceof ReportedFailure) return error.exitCode;
  getContext().log.error(error instanceof Error ? error.message : String(error));
  if (process.env.RUNCELL_TRACE && error instanceof Error) writeErr(`${error.stack}\n`);
  return 1;
}
