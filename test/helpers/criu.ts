// The CRIU the checkpoint tests use: $RUNCELL_CRIU, else the one test/criu/install unpacks
// (Debian 13's 4.1.1, for kernels Debian 12's 3.17 cannot handle), else `criu` in PATH, each
// only if it is new enough for this kernel (requiredCriuVersion) and `criu check` passes.
// Tests skip, saying why, when none is.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { requiredCriuVersion } from '../../src/container/criu';

export const CACHED_CRIU = '/var/cache/runcell-criu/4.1.1/criu';

export interface FoundCriu {
  path: string | null;
  /** Why there is none (tried, and what each said). */
  why: string;
}

function version(file: string): [number, number] | null {
  try {
    const match = /Version:\s*(\d+)\.(\d+)/.exec(execFileSync(file, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    return match === null ? null : [Number(match[1]), Number(match[2])];
  } catch {
    return null;
  }
}

function inPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir !== '' && fs.existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

/** The first working candidate, or null with the reasons. */
export function findCriu(): FoundCriu {
  const required = requiredCriuVersion();
  const candidates = [process.env.RUNCELL_CRIU, fs.existsSync(CACHED_CRIU) ? CACHED_CRIU : undefined, inPath('criu') ?? undefined]
    .filter((c): c is string => c !== undefined && c !== '');
  const reasons: string[] = [];
  for (const candidate of candidates) {
    const v = version(candidate);
    if (v === null) {
      reasons.push(`${candidate}: no version`);
      continue;
    }
    if (v[0] < required.major || (v[0] === required.major && v[1] < required.minor)) {
      reasons.push(`${candidate}: ${v.join('.')} < ${required.major}.${required.minor} (${required.why})`);
      continue;
    }
    try {
      execFileSync(candidate, ['check'], { stdio: 'ignore' });
    } catch {
      reasons.push(`${candidate}: \`criu check\` fails`);
      continue;
    }
    return { path: candidate, why: '' };
  }
  return {
    path: null,
    why: `needs CRIU >= ${required.major}.${required.minor} (${reasons.length > 0 ? reasons.join('; ') : 'none found'}; ` +
      'test/criu/install fetches one, or set RUNCELL_CRIU)',
  };
}
