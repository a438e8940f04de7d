import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CsvFormatError, type CsvRow, openCsv } from '../../src/import/csv-rows.js';
import {
  type BatchReport,
  type ImportOutcome,
  type ImportTotals,
  runImport,
} from '../../src/import/run-import.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { emptyTables, expectedSummaries, summarySnapshot } from '../helpers/summaries.js';

const HEADER = 'event_id,occurred_at,user_id,event_type,properties_json';
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

let database: TestDatabase;
let dir: string;
beforeAll(async () => {
  database = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'events-run-import-'));
});
afterAll(async () => {
  await database.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await emptyTables(database.pool);
});

interface Recorded {
  outcome: ImportOutcome;
  rejected: { line: number; reason: string }[];
  batches: { batch: BatchReport; totals: ImportTotals }[];
}

async function importText(
  text: string,
  options: { batchSize?: number; inFlight?: number; dryRun?: boolean } = {},
): Promise<Recorded> {
  const file = path.join(dir, `in-${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(file, text);
  const rejected: Recorded['rejected'] = [];
  const batches: Recorded['batches'] = [];
  const outcome = await runImport({
    source: await openCsv(file),
    pool: options.dryRun ? undefined : database.pool,
    projectId: 1,
    batchSize: options.batchSize ?? 1000,
    inFlight: options.inFlight ?? 2,
    sink: {
      rejected: (row: CsvRow, reason) => rejected.push({ line: row.line, reason }),
      batchCommitted: (batch, totals) => batches.push({ batch, totals }),
      progress() {},
    },
  });
  return { outcome, rejected, batches };
}

async function stored(): Promise<{ event_id: string; event_type: string; properties: string }[]> {
  const { rows } = await database.pool.query(
    'SELECT event_id::text, event_type, properties::text FROM events ORDER BY event_id',
  );
  return rows;
}

describe('runImport', () => {
  it('stores the row earlier in the file when a later batch in flight repeats its id', async () => {
    const rows = [HEADER];
    for (let n = 0; n < 40; n++) rows.push(`${id(n)},2025-10-19T10:00:00Z,u${n % 3},first,`);
    // Each id again, 1 to 3 batches later (batches of 4 rows, 3 in flight).
    for (let n = 0; n < 40; n++) rows.push(`${id(n)},2025-10-19T11:00:00Z,u${n % 5},second,`);
    const { outcome, batches } = await importText(rows.join('\n'), { batchSize: 4, inFlight: 3 });
    expect(outcome).toEqual({
      status: 'complete',
      totals: { read: 80, accepted: 40, duplicates: 40, invalid: 0 },
    });
    expect(batches).toHaveLength(20);
    expect(new Set((await stored()).map((r) => r.event_type))).toEqual(new Set(['first']));
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
  });

  it('makes a batch that repeats an id wait for the batch in flight holding it, even when that one is slow', async () => {
    // Batch 1 = [A, X], batch 2 = [A again, B]. An open transaction holding X makes batch 1
    // wait; batch 2 must still not store its A first.
    const [x, a, b] = [id(1), id(2), id(3)]; // X sorts first: batch 1 waits before storing A
    const blocker = await database.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(
        `INSERT INTO event_ids (project_id, source, event_id, occurred_at) VALUES (1, 1, $1, now())`,
        [x],
      );
      const release = new Promise((resolve) => setTimeout(resolve, 700)).then(() =>
        blocker.query('ROLLBACK'),
      );
      const { outcome } = await importText(
        [
          HEADER,
          `${a},2025-10-19T10:00:00Z,u1,first,`,
          `${x},2025-10-19T10:00:00Z,u2,first,`,
          `${a},2025-10-19T10:00:00Z,u3,second,`,
          `${b},2025-10-19T10:00:00Z,u4,second,`,
        ].join('\n'),
        { batchSize: 2, inFlight: 2 },
      );
      await release;
      expect(outcome.totals).toEqual({ read: 4, accepted: 3, duplicates: 1, invalid: 0 });
    } finally {
      blocker.release();
    }
    expect((await stored()).map((r) => [r.event_id, r.event_type])).toEqual([
      [x, 'first'],
      [a, 'first'],
      [b, 'second'],
    ]);
  });

  it('stores numbers in properties_json as written, and refuses what jsonb cannot hold, naming the field', async () => {
    const { outcome, rejected } = await importText(
      [
        HEADER,
        `${id(1)},2025-10-19T10:00:00Z,u,t,"{""n"":1e400,""id"":9007199254740993,""s"":12345678901234567890123}"`,
        `${id(2)},2025-10-19T10:00:00Z,u,t,"{""x"":1e200000}"`,
        `${id(3)},2025-10-19T10:00:00Z,u,t,"{""x"":""\\ud800""}"`,
        `${id(4)},2025-10-19T10:00:00Z,u,t,90071992547409931`,
      ].join('\n'),
    );
    expect(outcome.totals).toEqual({ read: 4, accepted: 2, duplicates: 0, invalid: 2 });
    expect(rejected).toEqual([
      {
        line: 3,
        reason:
          'properties_json has the number 1e200000, beyond what PostgreSQL can store (131072 digits before the point, 16383 after)',
      },
      {
        line: 4,
        reason: 'properties_json must not contain a lone UTF-16 surrogate (\\ud800)',
      },
    ]);
    const { rows } = await database.pool.query(
      `SELECT properties->>'id' AS id, properties->>'s' AS s, (properties->>'n')::numeric = 1e400 AS n,
              properties->>'_value' AS v
       FROM events ORDER BY event_id`,
    );
    expect(rows).toEqual([
      { id: '9007199254740993', s: '12345678901234567890123', n: true, v: null },
      { id: null, s: null, n: null, v: '90071992547409931' },
    ]);
  });

  it('fails with a CsvFormatError and the totals of committed batches when the file breaks off', async () => {
    const rows = [HEADER];
    for (let n = 0; n < 10; n++) rows.push(`${id(n)},2025-10-19T10:00:00Z,u,t,`);
    rows.push(`${id(99)},2025-10-19T10:00:00Z,"never closed,t,`);
    const { outcome } = await importText(rows.join('\n'), { batchSize: 5, inFlight: 1 });
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.error).toBeInstanceOf(CsvFormatError);
    expect(String(outcome.error)).toMatch(/is not valid CSV: Quote Not Closed/);
    // Rows parsed just before the error may be dropped with the stream; what is reported is
    // what was committed.
    expect(outcome.totals.accepted).toBe(outcome.totals.read);
    expect(outcome.totals.read).toBeLessThanOrEqual(10);
    expect(await stored()).toHaveLength(outcome.totals.accepted);
  });

  it('stops reading when aborted; the batches in flight still commit', async () => {
    const rows = [HEADER];
    for (let n = 0; n < 100; n++) rows.push(`${id(n)},2025-10-19T10:00:00Z,u${n},t,`);
    const file = path.join(dir, 'abort.csv');
    writeFileSync(file, rows.join('\n'));
    const abort = new AbortController();
    let handedOver = 0;
    const outcome = await runImport({
      source: await openCsv(file),
      pool: database.pool,
      projectId: 1,
      batchSize: 10,
      inFlight: 2,
      signal: abort.signal,
      sink: {
        rejected() {},
        batchCommitted() {},
        progress() {
          if (++handedOver === 3) abort.abort();
        },
      },
    });
    expect(outcome.status).toBe('interrupted');
    expect(outcome.totals.accepted).toBe(30);
    expect(await stored()).toHaveLength(30);
  });
});
