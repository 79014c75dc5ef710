/** A failure whose messages were already reported: the CLI only exits non-zero. */
export class ReportedFailure extends Error {
  constructor(readonly exitCode = 1) {
    super('failure already reported');
  }
}
