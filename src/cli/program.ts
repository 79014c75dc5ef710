// The runcell command line: runc's global options and commands, each a few lines over the
// library. Global options come before the command, as with runc (`runcell --root R state ID`).
// Which commands are registered is the caller's choice: main.ts (every command) and the small
// bundles of a few verbs (entries/).
import { Command, CommanderError, Option } from 'commander';
import { defaultRootDir, isRootless, ROOTLESS_SETTINGS, type RootlessSetting } from '../container/rootless';
import { logPhase, setLogger } from '../log';
import { COMMIT, OCI_VERSION, VERSION } from '../version';
import { commandOf } from './command-line';
import type { Context } from './context';
import { ReportedFailure } from './exit';
import { CliLog, LOG_FORMATS, type LogFormat } from './log';
import { writeErr, writeOut } from './output';

/** What a command module exports: it adds its commands to the program. */
export type Register = (program: Command, context: () => Context) => void;

interface GlobalOptions {
  root?: string;
  log?: string;
  logFormat: LogFormat;
  debug?: boolean;
  systemdCgroup?: boolean;
  rootless: RootlessSetting;
  criu?: string;
}

/**
 * Runs the CLI on `argv` (as process.argv: node and script first) with the commands that
 * `registrations` register, and returns the exit code.
 */
export async function runProgram(argv: readonly string[], registrations: readonly Register[]): Promise<number> {
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
      let root = options.root;
      let rootless: boolean | undefined;
      context = {
        // The default is found when a command first needs it: `spec` or `features` need none, and
        // a user without XDG_RUNTIME_DIR may still run them.
        get root() {
          root ??= defaultRootDir();
          return root;
        },
        rootGiven: options.root !== undefined,
        criu: options.criu,
        systemdCgroup: options.systemdCgroup === true,
        // Only create and run ask (auto reads /proc/self/uid_map: no work for the other verbs).
        get rootless() {
          rootless ??= isRootless(ROOTLESS_SETTINGS.includes(options.rootless) ? options.rootless : 'auto');
          return rootless;
        },
        log,
      };
    }
    return context;
  };

  program
    .description('an OCI container runtime: runsc\'s container lifecycle over Linux namespaces and cgroups')
    .enablePositionalOptions();
  const mentioned = globalOptionsMentioned(argv);
  for (const [name, make] of GLOBAL_OPTIONS) {
    if (mentioned === 'all' || mentioned.has(name)) program.addOption(make());
  }
  if (mentioned === 'all' || mentioned.has('--version')) {
    program.version(`runcell version ${VERSION}\ncommit: ${COMMIT}\nspec: ${OCI_VERSION}`, '-v, --version', 'print the version');
  }
  program
    .exitOverride()
    .configureOutput({
      writeOut,
      writeErr,
      // Commander's own usage errors ("error: unknown option '--x'") go through our reporting.
      outputError: (message) => getContext().log.error(message.replace(/^error: /, '').trim()),
    })
    .hook('preAction', () => {
      getContext().log.debug(`runcell ${argv.slice(2).join(' ')}`);
      logPhase('command line parsed');
    });

  for (const register of registrations) register(program, getContext);

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

// The global options. Each is registered only when the command line names it (or names no
// single command: help and usage errors get them all), as only the named command is: building
// commander's options costs every command (~0.2 ms for these). An option not given only
// supplies its default, and getContext takes an absent --log-format and --rootless as their
// defaults; with positional options, commander neither parses nor suggests the program's
// options after the command, so no command line parses otherwise.
const GLOBAL_OPTIONS: ReadonlyArray<readonly [string, () => Option]> = [
  ['--root', () => new Option('--root <dir>', 'directory of container state (should be on tmpfs; default /run/runcell, or $XDG_RUNTIME_DIR/runcell for a user other than root)')],
  ['--log', () => new Option('--log <file>', 'append log lines (and every error) to this file instead of stderr')],
  ['--log-format', () => new Option('--log-format <format>', 'format of log lines').choices(LOG_FORMATS).default('text')],
  ['--debug', () => new Option('--debug', 'log debug messages')],
  ['--systemd-cgroup', () => new Option('--systemd-cgroup', 'make each new container\'s cgroup a systemd scope (linux.cgroupsPath "slice:prefix:name")')],
  ['--rootless', () => new Option('--rootless <value>', 'work as a user without privileges: no cgroup unless one can be written, limits refused without one ' +
    '(auto: when not the host\'s root)').choices(ROOTLESS_SETTINGS).default('auto')],
  ['--criu', () => new Option('--criu <path>', 'the CRIU binary of checkpoint and restore (default: criu in PATH)')],
];

/** The long names of the global options `argv` names (-v as --version), or 'all'. */
export function globalOptionsMentioned(argv: readonly string[]): Set<string> | 'all' {
  if (commandOf(argv) === undefined) return 'all';
  const names = new Set<string>();
  for (const arg of argv.slice(2)) {
    if (arg === '-v') names.add('--version');
    else if (arg.startsWith('--')) names.add(arg.split('=', 1)[0]);
  }
  return names;
}

/** Runs the CLI and sets the process's exit code (not process.exit: output may still be queued). */
export function runAndSetExitCode(argv: readonly string[], registrations: readonly Register[]): void {
  runProgram(argv, registrations).then((code) => {
    process.exitCode = code;
  });
}

function exitCodeOf(error: unknown, getContext: () => Context): number {
  if (error instanceof CommanderError) return error.exitCode; // already reported by commander
  if (error instanceof ReportedFailure) return error.exitCode;
  getContext().log.error(error instanceof Error ? error.message : String(error));
  if (process.env.RUNCELL_TRACE && error instanceof Error) writeErr(`${error.stack}\n`);
  return 1;
}
