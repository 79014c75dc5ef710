// Entry point of the CLI bundle (dist/cli.js), started by bin/runcell.
import { main } from './main';

main(process.argv).then((code) => {
  process.exitCode = code;
});
