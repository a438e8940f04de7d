import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generate } from '../../tools/gen-csv.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { addDays, dedupe, oracleDau, oracleRetention, oracleTopEvents } from '../helpers/oracle.js';
import { runProcess } from '../helpers/server-process.js';
import { emptyTables, expectedSummaries, summarySnapshot } from '../helpers/summaries.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const IMPORT = ['--import', 'tsx', 'src/cli/import-events.ts'];
const HEADER = 'event_id,occurred_at,user_id,event_type,properties_json';

let database: TestDatabase;
let dir: string;

beforeAll(async () => {
  database = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'events-import-'));
});
afterAll(async () => {
  await database.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await emptyTables(database.pool);
});

function file(name: string, content: string | Buffer): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

function runImport(args: string[], env: Record<string, string> = {}) {
  return runProcess([...IMPORT, ...args], { DATABASE_URL: database.url, ...env }, 120_000);
}

async function stored() {
  const { rows } = await database.pool.query(
    `SELECT event_id::text, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at, user_id, event_type, properties
     FROM events ORDER BY user_id, occurred_at`,
  );
  return rows;
}

/**
 * Runs an import and, once `batches` batches are logged as done, does `act` to it: sends
 * a signal, or anything else (cut its database connection).
 */
function importUntil(
  args: string[],
  batches: number,
  act: NodeJS.Signals | (() => void),
  databaseUrl = database.url,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [...IMPORT, ...args], {
      env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let done = false;
    proc.stderr.on('data', (chunk) => {
      stderr += String(chunk);
    });
    proc.stdout.on('data', (chunk) => {
      stdout += String(chunk);
      if (!done && (stdout.match(/import_batch_done/g) ?? []).length >= batches) {
        done = true;
        if (typeof act === 'function') act();
        else proc.kill(act);
      }
    });
    proc.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `key=value` pairs of the last log line with this event name. */
function logLine(stdout: string, event: string): Record<string, string> {
  const line = stdout
    .split('\n')
    .filter((l) => l.includes(`] ${event}`))
    .pop();
  if (!line) throw new Error(`no ${event} line in:\n${stdout}`);
  return Object.fromEntries([...line.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
}

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('npm run import', () => {
  it("imports the original generator's format, unquoted JSON included", async () => {
    const csv = file(
      'seed.csv',
      `${HEADER}\n${id(1)},2025-10-19T10:00:00Z,u1,login,{"device":"mobile"}\n${id(2)},2025-10-20T12:30:00Z,u2,view,{"page":"home","ref":"ad"}\n`,
    );
    const { code, stdout } = await runImport([csv, '--batch-size', '5000']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/\[info\] import_start batch_size=5000 path=\S+seed\.csv/);
    expect(logLine(stdout, 'import_batch_done')).toEqual({
      accepted: '2',
      read: '2',
      skipped: '0',
      total_accepted: '2',
      total_read: '2',
      total_skipped: '0',
    });
    expect(logLine(stdout, 'import_complete')).toMatchObject({
      total_accepted: '2',
      total_read: '2',
      total_skipped: '0',
      total_duplicates: '0',
      total_invalid: '0',
    });
    expect(await stored()).toEqual([
      {
        event_id: id(1),
        at: '2025-10-19T10:00:00Z',
        user_id: 'u1',
        event_type: 'login',
        properties: { device: 'mobile' },
      },
      {
        event_id: id(2),
        at: '2025-10-20T12:30:00Z',
        user_id: 'u2',
        event_type: 'view',
        properties: { page: 'home', ref: 'ad' },
      },
    ]);
  });

  it('reads RFC 4180 quoting, CRLF, a BOM, blank lines, reordered and extra columns', async () => {
    const body = [
      'user_id,extra,properties_json,event_type,occurred_at,event_id',
      `"u, one",x,"{""q"":""a, \\""quoted\\"" b"",""n"":1}",search,2025-10-19T10:00:00+03:00,${id(3)}`,
      '',
      `u2,"extra\nspanning lines","{""note"":""two\\nlines""}",view,2025-10-19 11:00:00,${id(4)}`,
    ].join('\r\n');
    const csv = file(
      'rfc.csv',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${body}\r\n`)]),
    );
    const { code, stdout } = await runImport([csv]);
    expect(code).toBe(0);
    expect(stdout).toContain('import_ignored_columns columns=extra');
    expect(await stored()).toEqual([
      {
        event_id: id(3),
        at: '2025-10-19T07:00:00Z',
        user_id: 'u, one',
        event_type: 'search',
        properties: { q: 'a, "quoted" b', n: 1 },
      },
      {
        event_id: id(4),
        at: '2025-10-19T11:00:00Z',
        user_id: 'u2',
        event_type: 'view',
        properties: { note: 'two\nlines' },
      },
    ]);
  });

  it('stores properties_json by the importer rules', async () => {
    const csv = file(
      'props.csv',
      [
        HEADER,
        `${id(5)},2025-10-19T10:00:00Z,a,t,`,
        `${id(6)},2025-10-19T10:00:00Z,b,t,"[1,2]"`,
        `${id(7)},2025-10-19T10:00:00Z,c,t,42`,
        `${id(8)},2025-10-19T10:00:00Z,d,t,{not json`,
      ].join('\n'),
    );
    expect((await runImport([csv])).code).toBe(0);
    expect((await stored()).map((r) => r.properties)).toEqual([
      {},
      { _value: [1, 2] },
      { _value: 42 },
      { _raw: '{not json' },
    ]);
  });

  it('skips invalid rows with their line numbers and reasons, keeps every valid row, and writes --rejects', async () => {
    const rows = [
      HEADER,
      `${id(10)},2025-10-19T10:00:00Z,ok1,login,`, // line 2
      `not-a-uuid,2025-10-19T10:00:00Z,u,login,`, // line 3
      `${id(11)},2025-13-40T10:00:00Z,u,login,`, // line 4
      `${id(12)},2025-10-19T10:00:00Z,   ,login,`, // line 5
      `${id(13)},2025-10-19T10:00:00Z,u,,`, // line 6
      `${id(14)},2999-01-01T00:00:00Z,u,login,`, // line 7
      `${id(15)},2025-10-19T10:00:00Z,ok2,view,{}`, // line 8
    ];
    const csv = file('invalid.csv', `${rows.join('\n')}\n`);
    const rejectsPath = path.join(dir, 'rejects.csv');
    const { code, stdout, stderr } = await runImport([csv, '--rejects', rejectsPath]);
    expect(code).toBe(0);
    expect(stderr).toContain('line 3: event_id must be a UUID');
    expect(stderr).toContain('line 4: occurred_at has an impossible date 2025-13-40');
    expect(stderr).toContain('line 5: user_id must not be empty or blank');
    expect(stderr).toContain('line 6: event_type must not be empty or blank');
    expect(stderr).toContain('line 7: occurred_at is more than 24 hours in the future');
    expect(logLine(stdout, 'import_complete')).toMatchObject({
      total_accepted: '2',
      total_read: '7',
      total_skipped: '5',
      total_invalid: '5',
      total_duplicates: '0',
    });
    expect((await stored()).map((r) => r.user_id)).toEqual(['ok1', 'ok2']);
    const rejected = parse(readFileSync(rejectsPath), { columns: true }) as {
      line: string;
      reason: string;
      row: string;
    }[];
    expect(rejected.map((r) => r.line)).toEqual(['3', '4', '5', '6', '7']);
    expect(rejected[0]?.row).toBe('not-a-uuid,2025-10-19T10:00:00Z,u,login,');
  });

  it('counts duplicates within the file and against the database separately', async () => {
    const csv1 = file('d1.csv', `${HEADER}\n${id(20)},2025-10-19T10:00:00Z,u,a,\n`);
    expect((await runImport([csv1])).code).toBe(0);
    const csv2 = file(
      'd2.csv',
      `${HEADER}\n${id(20)},2025-10-19T10:00:00Z,u,CHANGED,\n${id(21)},2025-10-19T10:00:00Z,u,b,\n${id(21)},2025-10-19T10:00:00Z,u,b2,\n${id(22)},2025-10-19T10:00:00Z,u,c,\nbad,x,u,c,\n`,
    );
    const { stdout } = await runImport([csv2, '--batch-size', '2']);
    expect(logLine(stdout, 'import_complete')).toMatchObject({
      total_accepted: '2',
      total_read: '5',
      total_skipped: '3',
      total_duplicates: '2',
      total_invalid: '1',
    });
    expect((await stored()).map((r) => r.event_type).sort()).toEqual(['a', 'b', 'c']);
  });

  it('--dry-run validates and counts without a database, writing nothing', async () => {
    const csv = file(
      'dry.csv',
      `${HEADER}\n${id(30)},2025-10-19T10:00:00Z,u,a,\nbad,2025-10-19T10:00:00Z,u,a,\n`,
    );
    const { code, stdout } = await runImport([csv, '--dry-run'], {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    });
    expect(code).toBe(0);
    expect(stdout).toContain('dry_run=true');
    expect(logLine(stdout, 'import_complete')).toMatchObject({
      total_read: '2',
      total_invalid: '1',
      total_accepted: '1',
    });
    expect(await stored()).toEqual([]);
  });

  it('exits non-zero with one clear message and writes nothing for a missing file, a missing column, a bad option, a broken CSV or no database', async () => {
    const missingFile = await runImport([path.join(dir, 'nope.csv')]);
    expect(missingFile.code).toBe(2);
    expect(missingFile.stderr.trim()).toMatch(
      /^import failed: cannot read \S+nope\.csv: no such file$/,
    );

    const noColumn = file(
      'nocol.csv',
      `event_id,occurred_at,user_id,properties_json\n${id(40)},2025-10-19T10:00:00Z,u,\n`,
    );
    const header = await runImport([noColumn]);
    expect(header.code).toBe(2);
    expect(header.stderr).toContain('the header lacks column event_type');

    const badSize = await runImport([noColumn, '--batch-size', '0']);
    expect(badSize.code).toBe(2);
    expect(badSize.stderr).toContain('--batch-size must be a positive integer');

    const broken = file(
      'broken.csv',
      `${HEADER}\n${id(42)},2025-10-19T10:00:00Z,u,a,\n${id(43)},2025-10-19T10:00:00Z,"u,a,\n`,
    );
    const notCsv = await runImport([broken]);
    expect(notCsv.code).toBe(1);
    expect(notCsv.stderr).toMatch(
      /^import failed: \S+broken\.csv is not valid CSV: Quote Not Closed.*\(no batch was committed; fix the file, then re-run it to import the rest\)\n$/,
    );

    const csv = file('ok.csv', `${HEADER}\n${id(41)},2025-10-19T10:00:00Z,u,a,\n`);
    const noDb = await runImport([csv], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(noDb.code).toBe(1);
    expect(noDb.stderr).toContain('import failed: cannot reach the database');
    expect(await stored()).toEqual([]);
  });

  it('leaves the stats equal to an oracle computed from the file', async () => {
    const csv = path.join(dir, 'gen.csv');
    await generate({
      path: csv,
      rows: 4000,
      seed: 7,
      users: 150,
      start: '2025-10-01',
      days: 20,
      dupRate: 0.05,
    });
    const { code } = await runImport([csv, '--batch-size', '700']);
    expect(code).toBe(0);
    const records = parse(readFileSync(csv), { columns: true }) as Record<string, string>[];
    const events = dedupe(
      records.map((r) => ({
        event_id: r.event_id as string,
        epochMs: Date.parse(r.occurred_at as string),
        user_id: r.user_id as string,
        event_type: r.event_type as string,
      })),
    );
    const { app } = await buildTestApp(database);
    try {
      const from = '2025-10-01';
      const to = '2025-10-20';
      expect((await app.inject(`/stats/dau?from=${from}&to=${to}`)).json()).toEqual(
        oracleDau(events, from, to, 'UTC'),
      );
      expect(
        (await app.inject(`/stats/top-events?from=${from}&to=${to}&limit=100`)).json(),
      ).toEqual(oracleTopEvents(events, from, to, 'UTC', 100));
      for (let n = 0; n < 20; n += 3) {
        const start = addDays(from, n);
        expect((await app.inject(`/stats/retention?start_date=${start}&windows=7`)).json()).toEqual(
          oracleRetention(events, start, 7, 'UTC'),
        );
      }
    } finally {
      await app.close();
    }
  });

  it('on Ctrl-C finishes the batch in flight, prints the totals so far and exits 130', async () => {
    const csv = path.join(dir, 'interrupt.csv');
    await generate({
      path: csv,
      rows: 40_000,
      seed: 9,
      users: 2000,
      start: '2025-09-01',
      days: 30,
      dupRate: 0,
    });
    const { code, stdout: out } = await importUntil([csv, '--batch-size', '1000'], 1, 'SIGINT');
    expect(code).toBe(130);
    const totals = logLine(out, 'import_interrupted');
    expect(Number(totals.total_read)).toBeLessThan(40_000);
    // The totals count committed batches only: the file has no invalid or duplicate rows.
    expect(totals.total_read).toBe(totals.total_accepted);
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM events');
    expect(rows[0].n).toBe(Number(totals.total_accepted));
  });

  it('draws a progress bar when stderr is a terminal', async () => {
    const csv = path.join(dir, 'progress.csv');
    await generate({
      path: csv,
      rows: 3000,
      seed: 11,
      users: 100,
      start: '2025-09-01',
      days: 5,
      dupRate: 0,
    });
    // script(1) runs the importer on a pseudo-terminal.
    const command = [process.execPath, ...IMPORT, csv, '--batch-size', '500', '--dry-run'].join(
      ' ',
    );
    const { stdout } = await promisify(execFile)('script', ['-qec', command, '/dev/null'], {
      env: { ...process.env, DATABASE_URL: database.url },
    });
    expect(stdout).toMatch(/\[#+\.*\] 100% 3000 rows \d+ rows\/s/);
    const plain = await runImport([csv, '--dry-run']);
    expect(plain.stderr).not.toContain('rows/s');
  });

  it('is crash-safe: killed mid-file with SIGKILL, a re-run stores every row exactly once with exact summaries', async () => {
    const csv = path.join(dir, 'big.csv');
    await generate({
      path: csv,
      rows: 60_000,
      seed: 3,
      users: 3000,
      start: '2025-09-01',
      days: 30,
      dupRate: 0.02,
    });
    // Killed after a few batches have committed, while the next is in flight.
    const killed = await importUntil([csv, '--batch-size', '2000'], 3, 'SIGKILL');
    expect(killed.code).toBe(null);
    const { rows: partial } = await database.pool.query('SELECT count(*)::int AS n FROM events');
    expect(partial[0].n).toBeGreaterThan(0);

    const rerun = await runImport([csv, '--batch-size', '2000']);
    expect(rerun.code).toBe(0);
    const records = parse(readFileSync(csv), { columns: true }) as { event_id: string }[];
    const distinct = new Set(records.map((r) => r.event_id)).size;
    const { rows } = await database.pool.query(
      'SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM events',
    );
    expect(rows[0]).toEqual({ n: distinct, d: distinct });
    expect(Number(logLine(rerun.stdout, 'import_complete').total_accepted)).toBe(
      distinct - partial[0].n,
    );
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
  }, 120_000);

  it('survives its database connection being cut mid-file: one sentence, the committed totals, exit 1; a re-run stores every row once', async () => {
    const csv = path.join(dir, 'cut.csv');
    await generate({
      path: csv,
      rows: 40_000,
      seed: 5,
      users: 2000,
      start: '2025-09-01',
      days: 30,
      dupRate: 0.02,
    });
    const target = new URL(database.url);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.start();
    const viaProxy = new URL(database.url);
    viaProxy.port = String(proxy.port);
    let cut: Promise<void> | undefined;
    const failed = await importUntil(
      [csv, '--batch-size', '2000'],
      2,
      () => {
        cut = proxy.stop(); // drops the open connections, refuses new ones
      },
      viaProxy.toString(),
    );
    await cut;
    expect(failed.code).toBe(1);
    expect(failed.stderr).not.toMatch(/^\s+at /m); // no stack trace
    expect(failed.stderr).toMatch(
      /^import failed: lost the database connection: .+ \(the batches logged as done are committed, \d+ new rows; re-run the same file to import the rest\)\n$/,
    );
    const totals = logLine(failed.stdout, 'import_failed');
    const { rows: partial } = await database.pool.query('SELECT count(*)::int AS n FROM events');
    expect(partial[0].n).toBe(Number(totals.total_accepted));
    expect(partial[0].n).toBeGreaterThan(0);

    const rerun = await runImport([csv, '--batch-size', '2000']);
    expect(rerun.code).toBe(0);
    const records = parse(readFileSync(csv), { columns: true }) as { event_id: string }[];
    const distinct = new Set(records.map((r) => r.event_id)).size;
    const { rows } = await database.pool.query(
      'SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM events',
    );
    expect(rows[0]).toEqual({ n: distinct, d: distinct });
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
  }, 120_000);
});
