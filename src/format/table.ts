// Text tables exactly as Go's text/tabwriter lays out runc's `list` (minwidth 12, tabwidth 1,
// padding 3, padchar ' '): each column is as wide as its widest cell plus 3, and at least 12;
// the last column is not padded. Scripts split runc's output on whitespace, so we match it.
const MIN_WIDTH = 12;
const PADDING = 3;

export function formatTable(rows: readonly (readonly string[])[]): string {
  const columns = Math.max(0, ...rows.map((row) => row.length));
  const widths: number[] = [];
  for (let column = 0; column < columns - 1; column++) {
    let width = MIN_WIDTH;
    for (const row of rows) {
      const cell = row[column] ?? '';
      width = Math.max(width, [...cell].length + PADDING);
    }
    widths.push(width);
  }
  return rows
    .map((row) => row.map((cell, column) => (column < row.length - 1 ? cell.padEnd(widths[column]) : cell)).join('') + '\n')
    .join('');
}
