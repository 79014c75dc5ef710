import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('spec')
    .description('write a default config.json into a bundle directory')
    .option('-b, --bundle <dir>', 'the bundle directory', '.')
    .option('--rootless', 'a spec for a rootless container (user namespace mapping the caller to root)')
    .action(async (options: { bundle: string; rootless?: boolean }) => {
      const { defaultSpec } = await import('../../oci/default-spec');
      const rootless = options.rootless ? { uid: process.getuid!(), gid: process.getgid!() } : undefined;
      const file = path.join(options.bundle, 'config.json');
      // runc indents with tabs; 'wx' refuses to replace a config.json that is already there.
      try {
        fs.writeFileSync(file, JSON.stringify(defaultSpec({ rootless }), null, '\t') + '\n', { flag: 'wx', mode: 0o666 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`'${file}' exists: remove it first`);
        throw error;
      }
    });
}
