// The differential conformance matrix: each entry's config under runc and under runcell,
// compared field by field (harness.ts). A difference that expected-differences.ts does not
// explain fails the entry, naming the field and both values. Entries that fail on main today
// are listed in known-failing-on-main.ts and run as `it.fails`.
//
// CONFORMANCE_REPORT=FILE writes every entry's outcome and differences as JSON.
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDifferences, type Difference } from './compare';
import { describeOutcome, runcHasBug, runcVersion, runEntry, whyNoConformance, type MatrixEntry } from './harness';
import { withoutDeliberateDifferences } from './expected-differences';
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
  const bug = entry.runcBug !== undefined && runcHasBug(entry.runcBug) ? entry.runcBug : undefined;
  // The oracle first: runc must do on this machine what the entry records of it.
  const runcFails = entry.runcFails ?? bug?.runcFails;
  if (runcFails !== undefined && result.runc.kind === 'ran') {
    throw new Error(`runc was expected to refuse this config (${runcFails}) but ran it: the entry no longer describes this runc`);
  }
  if (runcFails === undefined && result.runc.kind === 'failed') {
    throw new Error(`runc refused this config: ${describeOutcome(result.runc)}\n(if that is this kernel's or runc's answer, record it as runcFails)`);
  }
  if (entry.runcellRefuses !== undefined) {
    // On purpose (the reason is in the test's name): runcell must refuse, with its error.
    if (result.runcell.kind === 'ran') expect.fail(`runcell ran a config it refuses on purpose (${entry.runcellRefuses.reason})`);
    expect(result.runcell.stderr).toMatch(entry.runcellRefuses.error);
    return;
  }
  let differences = withoutDeliberateDifferences(result.differences);
  if (bug !== undefined) {
    // runc is wrong here (the bug is in the test's name): what it causes is not compared, and
    // runcell's own outcome is checked instead.
    if (bug.runcFails !== undefined) {
      if (result.runcell.kind !== 'ran') expect.fail(`runcell must run what runc fails only through its bug: ${describeOutcome(result.runcell)}`);
      differences = differences.filter((d) => d.field !== 'outcome');
    }
    if (bug.explains !== undefined) {
      const explained = differences.filter(bug.explains);
      if (explained.length === 0) throw new Error('the runc bug explains no difference: the entry no longer describes this runc');
      differences = differences.filter((d) => !explained.includes(d));
    }
    if (bug.check !== undefined && result.runcell.kind === 'ran') {
      const wrong = bug.check(result.runcell.report);
      if (wrong !== null) expect.fail(`runcell does not do what the fixed runc does: ${wrong}`);
    }
  }
  if (differences.length > 0) {
    expect.fail(`runcell differs from runc in ${differences.length} field(s):\n${formatDifferences(differences)}`);
  }
}

/** The test's name: the entry's, and where the comparison is not the whole story, why. */
function title(entry: MatrixEntry): string {
  if (entry.runcellRefuses !== undefined) return `${entry.name} (runcell refuses it on purpose: ${entry.runcellRefuses.reason})`;
  if (entry.runcBug !== undefined && runcHasBug(entry.runcBug)) {
    return `${entry.name} (runc ${runcVersion().join('.')} bug, runcell checked on its own there: ${entry.runcBug.reason})`;
  }
  return entry.name;
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
    test(title(entry), () => check(entry));
  }
  afterAll(() => {
    if (process.env.CONFORMANCE_REPORT) fs.writeFileSync(process.env.CONFORMANCE_REPORT, JSON.stringify(report, null, 2));
  });
});
