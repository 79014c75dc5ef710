// dist/cli.js, what bin/runcell starts: loads the CLI bundle that holds the command line's
// verb (dist/cli-main.js, the whole CLI, or the small one of a few verbs: command-line.ts)
// with the V8 code cache that the build made for it (dist/cli-<name>.cache), so that a command
// does not parse and compile 280 KB of JavaScript first: ~a fifth of a command's own start-up.
// Reading and deserialising a cache costs in proportion to its bundle: ~3 ms for the whole CLI.
//
// Node 20 has no compile cache for modules (module.enableCompileCache is Node 22), hence
// vm.Script with cachedData. V8 checks that the cache fits its version and flags and the
// source's length, not its content, so the cache begins with the bundle's build id (its last
// line) and is ignored for any other bundle. A rejected or missing cache only costs the compile.
// "Its flags" include bin/runcell's --hash-seed: the build makes the caches through bin/runcell.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { bundleOf } from './command-line';

/** The last line of the bundle: `//# runcell-build <sha256 of the bundle above it>`. */
const BUILD_ID_PREFIX = '//# runcell-build ';
const ID_LENGTH = BUILD_ID_PREFIX.length + 64;

const bundleName = bundleOf(process.argv);
const bundleFile = path.join(__dirname, `cli-${bundleName}.js`);
const cacheFile = path.join(__dirname, `cli-${bundleName}.cache`);

function readCache(buildId: string): Buffer | undefined {
  let cache: Buffer;
  try {
    cache = fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  return cache.length > ID_LENGTH && cache.toString('latin1', 0, ID_LENGTH) === buildId ? cache.subarray(ID_LENGTH) : undefined;
}

const source = fs.readFileSync(bundleFile, 'utf8');
const end = source.endsWith('\n') ? source.length - 1 : source.length;
const buildId = source.slice(source.lastIndexOf('\n', end - 1) + 1, end);
const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: bundleFile,
  cachedData: buildId.startsWith(BUILD_ID_PREFIX) ? readCache(buildId) : undefined,
});
const bundle: { exports: { run(argv: readonly string[]): void } } = { exports: {} as never };
script.runInThisContext()(bundle.exports, require, bundle, bundleFile, __dirname);

const writeTo = process.env.RUNCELL_WRITE_CODE_CACHE;
if (writeTo !== undefined && path.resolve(writeTo) === cacheFile) {
  // The build (bundle.mjs): the cache is taken once the command ran, so it holds the code
  // that commands share (commander's parsing, the state directory), not only the top level.
  delete process.env.RUNCELL_WRITE_CODE_CACHE;
  process.once('beforeExit', () => fs.writeFileSync(writeTo, Buffer.concat([Buffer.from(buildId, 'latin1'), script.createCachedData()])));
}
bundle.exports.run(process.argv);
