import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';

export const REQUIRED_COLUMNS = [
  'event_id',
  'occurred_at',
  'user_id',
  'event_type',
  'properties_json',
] as const;
export type Column = (typeof REQUIRED_COLUMNS)[number];

export interface CsvRow {
  /** 1-based line where the row starts (the header is line 1). */
  line: number;
  fields: Record<Column, string>;
  /** The row as it stood in the file, for the rejects file. */
  raw: string;
}

/** The file or its header cannot be used: nothing was imported. */
export class CsvHeaderError extends Error {}

/** The file stops being valid CSV (or readable) part-way through. */
export class CsvFormatError extends Error {}

function formatError(path: string, error: unknown): CsvFormatError {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('CSV_'))
    return new CsvFormatError(`${path} is not valid CSV: ${message}`);
  return new CsvFormatError(`cannot read ${path}: ${message}`);
}

export interface CsvSource {
  /** Columns of the header that are not used (reported as a warning). */
  ignoredColumns: string[];
  rows: AsyncIterable<CsvRow>;
  /** Bytes read from the file so far (for progress). */
  bytesRead(): number;
}

/** Line breaks in text from `from` on: CRLF, LF and a lone CR count once each. */
function lineBreaks(text: string, from: number): number {
  let n = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) n++;
  }
  return n;
}

/** Characters of blank lines (only \r and \n) at the start of a record's raw text. */
function blankPrefix(raw: string): number {
  let i = 0;
  while (i < raw.length && (raw.charCodeAt(i) === 0x0a || raw.charCodeAt(i) === 0x0d)) i++;
  return i;
}

/**
 * Streams a CSV of events with csv-parse: RFC 4180 quoting, a UTF-8 BOM, CRLF or LF line
 * ends, blank lines, and columns in any order. The original generator wrote JSON without
 * quotes (`{"device":"mobile"}`): quotes inside an unquoted field are allowed, and when
 * properties_json is the last column, commas of such JSON (which split it into extra
 * fields) are joined back.
 */
export async function openCsv(path: string): Promise<CsvSource> {
  const file = createReadStream(path);
  const parser = file.pipe(
    parse({
      bom: true,
      relax_quotes: true,
      relax_column_count: true,
      skip_empty_lines: true,
      record_delimiter: ['\r\n', '\n'],
      // Line numbers are counted from the raw text: csv-parse's `info` costs about 40% of
      // its parsing time (an object per record).
      raw: true,
    }),
  );
  file.on('error', (error) => parser.destroy(error));
  const records = parser[Symbol.asyncIterator]() as AsyncIterator<{
    record: string[];
    raw: string;
  }>;

  const next = () =>
    records.next().catch((error: unknown) => Promise.reject(formatError(path, error)));
  const first = await next();
  if (first.done)
    throw new CsvHeaderError(
      `${path} is empty: expected a header row with ${REQUIRED_COLUMNS.join(',')}`,
    );
  const header = first.value.record.map((h) => h.trim().toLowerCase());
  const missing = REQUIRED_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new CsvHeaderError(
      `${path}: the header lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (it has ${header.join(', ')})`,
    );
  }
  const index = Object.fromEntries(REQUIRED_COLUMNS.map((c) => [c, header.indexOf(c)])) as Record<
    Column,
    number
  >;
  const propertiesLast = index.properties_json === header.length - 1;
  // csv-parse's raw text of a record starts with the blank lines skipped before it (each
  // as one character), and keeps only the first character of its record delimiter (the
  // \r of a CRLF); quoted fields keep their line breaks whole.
  const headerRaw = first.value.raw;
  let line = 1 + blankPrefix(headerRaw) + lineBreaks(headerRaw, blankPrefix(headerRaw));

  async function* rows(): AsyncGenerator<CsvRow> {
    for (;;) {
      const result = await next();
      if (result.done) return;
      const { record, raw } = result.value;
      const blank = blankPrefix(raw);
      const start = line + blank;
      line = start + lineBreaks(raw, blank);
      const text = raw.slice(blank).replace(/\r?\n$|\r$/, '');
      const cells =
        propertiesLast && record.length > header.length
          ? [...record.slice(0, header.length - 1), record.slice(header.length - 1).join(',')]
          : record;
      const fields: Record<Column, string> = {
        event_id: cells[index.event_id] ?? '',
        occurred_at: cells[index.occurred_at] ?? '',
        user_id: cells[index.user_id] ?? '',
        event_type: cells[index.event_type] ?? '',
        properties_json: cells[index.properties_json] ?? '',
      };
      yield { line: start, fields, raw: text };
    }
  }

  return {
    ignoredColumns: header.filter((h) => !(REQUIRED_COLUMNS as readonly string[]).includes(h)),
    rows: rows(),
    bytesRead: () => file.bytesRead,
  };
}
