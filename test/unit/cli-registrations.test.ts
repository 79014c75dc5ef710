// The CLI registers only the module of the command a command line names (start-up cost), and
// every command whenever commander must know them all (help, usage errors).
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { registrationsFor } from '../../src/cli/main';
import { globalOptionsMentioned } from '../../src/cli/program';

const commandsFor = (...args: string[]): string[] => {
  const program = new Command('runcell').enablePositionalOptions();
  for (const register of registrationsFor(['node', 'runcell', ...args])) register(program, () => { throw new Error('not run'); });
  return program.commands.map((c) => c.name());
};

describe('registrationsFor', () => {
  it('registers the named command\'s module after any global options', () => {
    expect(commandsFor('state', 'x')).toEqual(['state']);
    expect(commandsFor('--root', '/r', '--log', 'f', '--log-format', 'json', '--debug', 'list')).toEqual(['list']);
    expect(commandsFor('--root=/r', '--systemd-cgroup', 'delete', '-f', 'x')).toEqual(['delete']);
    expect(commandsFor('kill', 'x')).toContain('kill');
    // A global option's value is not the command.
    expect(commandsFor('--root', 'state', 'list')).toEqual(['list']);
  });

  it('registers nothing for --version alone, and every command otherwise', () => {
    expect(commandsFor('--version')).toEqual([]);
    expect(commandsFor('-v')).toEqual([]);
    const all = commandsFor();
    for (const name of ['create', 'start', 'run', 'kill', 'wait', 'exec', 'pause', 'ps', 'state', 'list', 'delete', 'spec', 'features']) expect(all).toContain(name);
    expect(commandsFor('--help')).toEqual(all);
    expect(commandsFor('help', 'state')).toEqual(all);
    expect(commandsFor('frobnicate')).toEqual(all);
    expect(commandsFor('--bogus', 'state')).toEqual(all);
  });
});

describe('globalOptionsMentioned', () => {
  const mentioned = (...args: string[]) => {
    const names = globalOptionsMentioned(['node', 'runcell', ...args]);
    return names === 'all' ? names : [...names].sort();
  };

  it('names the global options a command line gives (any form, -v as --version), for only those to be registered', () => {
    expect(mentioned('state', 'x')).toEqual([]);
    expect(mentioned('--root', '/r', '--log-format=json', '--debug', 'list')).toEqual(['--debug', '--log-format', '--root']);
    expect(mentioned('-v')).toEqual(['--version']);
    expect(mentioned('--version')).toEqual(['--version']);
    // After the command too: registered, the program's option parses as it always did there.
    expect(mentioned('state', '--root', 'x')).toEqual(['--root']);
  });

  it('is every option when commander must know them all (help, usage errors)', () => {
    expect(mentioned()).toBe('all');
    expect(mentioned('--help')).toBe('all');
    expect(mentioned('--bogus', 'state')).toBe('all');
  });
});
