import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CsvRow, openCsv, REQUIRED_COLUMNS } from '../../src/import/csv-rows.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'events-csv-rows-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const plain = fc.string({ unit: fc.constantFrom(...'abc 12-:'), maxLength: 6 });
const quotedContent = fc.string({
  unit: fc.constantFrom('a', 'b', ',', '""', '\n', '\r\n', ' '),
  maxLength: 6,
});
const field = fc.oneof(
  plain.map((text) => ({ text, value: text })),
  quotedContent.map((text) => ({ text: `"${text}"`, value: text.replaceAll('""', '"') })),
);
const lineEnd = fc.constantFrom('\n', '\r\n');
const record = fc.record({
  blankLines: fc.array(lineEnd, { maxLength: 2 }),
  fields: fc.array(field, { minLength: 5, maxLength: 5 }),
  end: lineEnd,
});

/** Line breaks as a person counts them (CRLF once). */
const breaks = (text: string) => (text.match(/\r\n|\n|\r/g) ?? []).length;

async function readAll(file: string): Promise<CsvRow[]> {
  const source = await openCsv(file);
  const rows: CsvRow[] = [];
  for await (const row of source.rows) rows.push(row);
  return rows;
}

describe('openCsv', () => {
  it('gives each row the line it starts on, its fields and its text (oracle: the file as written)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { minLength: 1, maxLength: 8 }),
        lineEnd,
        fc.boolean(),
        async (records, headerEnd, lastEnd) => {
          let text = `${REQUIRED_COLUMNS.join(',')}${headerEnd}`;
          const expected: CsvRow[] = [];
          records.forEach((r, i) => {
            text += r.blankLines.join('');
            const raw = r.fields.map((f) => f.text).join(',');
            const fields = Object.fromEntries(
              REQUIRED_COLUMNS.map((c, j) => [c, r.fields[j]?.value]),
            ) as CsvRow['fields'];
            expected.push({ line: breaks(text) + 1, fields, raw });
            text += raw;
            if (i < records.length - 1 || lastEnd) text += r.end;
          });
          const file = path.join(dir, 'rows.csv');
          writeFileSync(file, text);
          expect(await readAll(file)).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});
