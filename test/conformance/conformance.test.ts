// The differential conformance matrix: each entry's config under runc and under runcell,
// compared field by field (harness.ts). A difference that expected-differences.ts does not
// explain fails the entry, naming the field and both values. Entries that fail on main today
// are listed in known-failing-on-main.ts and run as `it.fails`.
//
// CONFORMANCE_REPORT=FILE writes every entry's outcome and differences as JSON.
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDifferences, type Difference } from './compare';
import { describeOutcome, runEntry, whyNoConformance, type MatrixEntry } from './harness';
import { KNOWN_FAILING_ON_MAIN } from './known-failing-on-main';
import { MATRIX } from './matrix';

const skip = whyNoConformance();
const report: Record<string, { runc: string; runcell: string; expected: string[]; differences: Difference[] }> = {};

async function check(entry: MatrixEntry): Promise<void> {
  const result = await runEntry(entry);
  report[entry.name] = {
    runc: describeOutcome(result.runc),
    runcell: describeOutcome(result.runcell),
    expected: result.expected,
    differences: result.differences,
  };
  // The oracle first: runc must do on this machine what the entry records of it.
  if (entry.runcFails !== undefined && result.runc.kind === 'ran') {
    throw new Error(`runc was expected to refuse this config (${entry.runcFails}) but ran it: the entry no longer describes this runc`);
  }
  if (entry.runcFails === undefined && result.runc.kind === 'failed') {
    throw new Error(`runc refused this config: ${describeOutcome(result.runc)}\n(if that is this kernel's or runc's answer, record it as runcFails)`);
  }
  if (result.differences.length > 0) {
    expect.fail(`runcell differs from runc in ${result.differences.length} field(s):\n${formatDifferences(result.differences)}`);
  }
}

describe.skipIf(skip !== null)(`conformance with runc${skip ? ` (skipped: ${skip})` : ''}`, () => {
  for (const entry of MATRIX) {
    // Asked only where the matrix runs at all (it may run runc).
    const cannot = skip === null ? entry.requires?.() ?? null : null;
    if (cannot !== null) {
      it.skip(`${entry.name} (skipped: ${cannot})`, () => {});
      continue;
    }
    const test = entry.name in KNOWN_FAILING_ON_MAIN ? it.fails : it;
    test(entry.name, () => check(entry));
  }
  afterAll(() => {
    if (process.env.CONFORMANCE_REPORT) fs.writeFileSync(process.env.CONFORMANCE_REPORT, JSON.stringify(report, null, 2));
  });
});
