// Entry point of the CLI bundle (dist/cli-main.js), which dist/cli.js (loader.ts) loads with
// its V8 code cache and then runs.
import { main } from './main';

export function run(argv: readonly string[]): void {
  main(argv).then((code) => {
    process.exitCode = code;
  });
}
