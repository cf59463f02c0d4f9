import Table from 'cli-table3';

/**
 * A table for humans: a rule under the header, none between rows (compact), so a long report stays readable and
 * greppable. Cells are strings; colour is applied by the caller through Output.c.
 */
export function renderTable(head: string[], rows: Array<Array<string | number | null | undefined>>, opts: { colAligns?: Array<'left' | 'right' | 'center'> } = {}): string {
  const table = new Table({
    head,
    style: { head: [], border: [], compact: true },
    ...(opts.colAligns ? { colAligns: opts.colAligns } : {}),
  });
  for (const row of rows) table.push(row.map((cell) => (cell === null || cell === undefined ? '' : String(cell))));
  return table.toString();
}

/** key: value lines, aligned. */
export function renderKeyValues(pairs: Array<[string, string | number | boolean | null | undefined]>): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v === null || v === undefined ? '-' : String(v)}`).join('\n');
}
