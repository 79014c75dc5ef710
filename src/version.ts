// Versions reported by `runcell --version` and in OCI state. RUNCELL_COMMIT is replaced by the
// CLI bundler with the commit the bundle was built from.
declare const RUNCELL_COMMIT: string | undefined;

export const VERSION: string = require('../package.json').version;
export const COMMIT: string = typeof RUNCELL_COMMIT === 'string' ? RUNCELL_COMMIT : 'unknown';
/** The runtime-spec version runcell implements and writes as `ociVersion`. */
export const OCI_VERSION = '1.2.0';
