// Which command a command line names, found without commander: the CLI loads and registers
// only that command's code (start-up cost, issue 13). Global options come before the command.

// The global options (main.ts registers them): those that take a value, as `--opt value` or
// `--opt=value`, and the flags.
const GLOBALS_WITH_VALUE = ['--root', '--log', '--log-format', '--rootless'];
const GLOBAL_FLAGS = ['--debug', '--systemd-cgroup'];

/**
 * The command named by `argv` (as process.argv: node and script first): its name as given
 * (perhaps no command at all); null for --version without a command; undefined when commander
 * must know every command (help, or an option that is not a global one: a usage error).
 */
export function commandOf(argv: readonly string[]): string | null | undefined {
  let version = false;
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i];
    if (GLOBALS_WITH_VALUE.includes(arg)) i++;
    else if (arg === '-v' || arg === '--version') version = true;
    else if (arg.startsWith('-')) {
      if (!GLOBAL_FLAGS.includes(arg) && !GLOBALS_WITH_VALUE.includes(arg.split('=', 1)[0])) return undefined;
    } else {
      return arg;
    }
  }
  return version ? null : undefined;
}

/**
 * The bundle (dist/cli-<name>.js) that holds a command line's code: a few verbs have a small
 * one of their own, with only their modules; anything else loads the whole CLI (`main`).
 */
export function bundleOf(argv: readonly string[]): string {
  const command = commandOf(argv);
  if (command === null) return 'query';
  return command !== undefined && Object.hasOwn(SMALL_BUNDLES, command) ? SMALL_BUNDLES[command] : 'main';
}

// Command → its small bundle (src/cli/entries/<bundle>.ts registers exactly these commands).
export const SMALL_BUNDLES: Readonly<Record<string, string>> = {
  state: 'query', list: 'query',
  kill: 'control', pause: 'control', resume: 'control', ps: 'control',
  delete: 'delete',
  // Without create's and the other verbs' modules, its code cache made by a real container's start.
  start: 'start',
  exec: 'exec',
  // The container's whole life, with a code cache made by a real container's run (bundle.mjs).
  create: 'create', run: 'create',
};
