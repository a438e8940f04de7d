import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { rowToEvent } from '../../src/import/row-to-event.js';
import { EVENT_TYPES, generate } from '../../tools/gen-csv.js';
import { oracleRetention } from '../helpers/oracle.js';
import { runProcess } from '../helpers/server-process.js';

const dir = mkdtempSync(path.join(tmpdir(), 'events-gen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Row = {
  event_id: string;
  occurred_at: string;
  user_id: string;
  event_type: string;
  properties_json: string;
};

function read(file: string): Row[] {
  return parse(readFileSync(file), { columns: true }) as Row[];
}

describe('gen:csv', () => {
  it('prints "Wrote N rows to PATH" and writes a header and N valid rows', async () => {
    const file = path.join(dir, 'cli.csv');
    const { code, stdout } = await runProcess(
      ['--import', 'tsx', 'tools/gen-csv.ts', file, '--rows', '500'],
      {},
    );
    expect(code).toBe(0);
    expect(stdout).toBe(`Wrote 500 rows to ${file}\n`);
    expect(readFileSync(file, 'utf8').split('\n')[0]).toBe(
      'event_id,occurred_at,user_id,event_type,properties_json',
    );
    const rows = read(file);
    expect(rows).toHaveLength(500);
    rows.forEach((fields, i) => {
      const result = rowToEvent({ line: i + 2, fields, raw: '' }, Date.now());
      expect(result.ok, JSON.stringify(fields)).toBe(true);
      expect(typeof JSON.parse(fields.properties_json)).toBe('object');
    });
  });

  it('refuses bad options with a clear message', async () => {
    const { code, stderr } = await runProcess(
      ['--import', 'tsx', 'tools/gen-csv.ts', path.join(dir, 'x.csv'), '--rows', 'many'],
      {},
    );
    expect(code).toBe(2);
    expect(stderr).toContain('--rows must be a positive integer');
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const opts = { rows: 2000, users: 100, start: '2025-10-01', days: 10, dupRate: 0.02 };
    await generate({ ...opts, path: path.join(dir, 'a.csv'), seed: 1 });
    await generate({ ...opts, path: path.join(dir, 'b.csv'), seed: 1 });
    await generate({ ...opts, path: path.join(dir, 'c.csv'), seed: 2 });
    const a = readFileSync(path.join(dir, 'a.csv'), 'utf8');
    expect(readFileSync(path.join(dir, 'b.csv'), 'utf8')).toBe(a);
    expect(readFileSync(path.join(dir, 'c.csv'), 'utf8')).not.toBe(a);
  });

  it('is realistic: uneven users, returning users, type frequencies, date range, duplicates', async () => {
    const file = path.join(dir, 'real.csv');
    await generate({
      path: file,
      rows: 40_000,
      seed: 5,
      users: 2000,
      start: '2025-10-01',
      days: 28,
      dupRate: 0.02,
    });
    const rows = read(file);

    // Timestamps within the range, spread over every day.
    const days = new Set(rows.map((r) => r.occurred_at.slice(0, 10)));
    expect(days.size).toBe(28);
    expect([...days].sort()[0]).toBe('2025-10-01');
    expect([...days].sort()[27]).toBe('2025-10-28');

    // A few heavy users, many light ones: the top 10% of users make far more than 10% of events.
    const perUser = new Map<string, number>();
    for (const r of rows) perUser.set(r.user_id, (perUser.get(r.user_id) ?? 0) + 1);
    const counts = [...perUser.values()].sort((x, y) => y - x);
    const top = counts.slice(0, Math.ceil(counts.length / 10)).reduce((s, n) => s + n, 0);
    expect(top / rows.length).toBeGreaterThan(0.3);
    expect(counts.at(-1)).toBeLessThan(5);

    // Event types in the configured order of frequency.
    const perType = new Map<string, number>();
    for (const r of rows) perType.set(r.event_type, (perType.get(r.event_type) ?? 0) + 1);
    expect([...perType.keys()].sort()).toEqual(EVENT_TYPES.map((t) => t.type).sort());
    const byFrequency = [...perType.entries()].sort((x, y) => y[1] - x[1]).map(([t]) => t);
    expect(byFrequency.slice(0, 3)).toEqual(['view', 'click', 'login']);

    // Users come back with decaying probability: retention is neither 0 nor 1 and falls.
    const events = rows.map((r) => ({
      event_id: r.event_id,
      epochMs: Date.parse(r.occurred_at),
      user_id: r.user_id,
      event_type: r.event_type,
    }));
    const retention = oracleRetention(events, '2025-10-10', 10, 'UTC');
    expect(retention.cohort_size).toBeGreaterThan(10);
    const rate = (d: number) => retention.windows[d]?.rate ?? 0;
    expect(rate(1)).toBeGreaterThan(0);
    expect(rate(1)).toBeLessThan(1);
    expect(rate(10)).toBeLessThan(rate(1));
    // New users keep arriving: some users' first day is late in the range.
    const first = new Map<string, string>();
    for (const r of rows)
      if (!first.has(r.user_id) || r.occurred_at < (first.get(r.user_id) ?? ''))
        first.set(r.user_id, r.occurred_at);
    expect([...first.values()].filter((t) => t >= '2025-10-20').length).toBeGreaterThan(50);

    // About 2% of rows repeat an earlier event exactly.
    const duplicates = rows.length - new Set(rows.map((r) => r.event_id)).size;
    expect(duplicates / rows.length).toBeGreaterThan(0.01);
    expect(duplicates / rows.length).toBeLessThan(0.03);
  });

  it('--funnels: per-user properties and signup -> activate -> purchase with drop-off', async () => {
    const file = path.join(dir, 'funnels.csv');
    await generate({
      path: file,
      rows: 6000,
      seed: 3,
      users: 300,
      start: '2025-10-01',
      days: 10,
      dupRate: 0,
      funnels: true,
    });
    const rows = read(file);
    expect(rows).toHaveLength(6000);
    const seen = new Map<string, { props: string; stage: number }>();
    const stages = { signup: 0, activate: 0, purchase: 0 };
    for (const r of rows) {
      const p = JSON.parse(r.properties_json);
      const own = JSON.stringify([p.platform, p.country, p.plan]);
      expect(['ios', 'android', 'web']).toContain(p.platform);
      const user = seen.get(r.user_id);
      // A user's first row is their signup; their properties never change.
      if (!user) {
        expect(r.event_type).toBe('signup');
        seen.set(r.user_id, { props: own, stage: 1 });
      } else {
        expect(own).toBe(user.props);
        expect(r.event_type).not.toBe('signup');
        if (r.event_type === 'activate') {
          expect(user.stage).toBe(1);
          user.stage = 2;
        }
        if (r.event_type === 'purchase') expect(user.stage).toBe(2);
      }
      if (r.event_type in stages) stages[r.event_type as keyof typeof stages]++;
    }
    // Drop-off: fewer activate than sign up, yet many do.
    expect(stages.activate).toBeLessThan(stages.signup);
    expect(stages.activate).toBeGreaterThan(stages.signup / 3);
    expect(stages.purchase).toBeGreaterThan(0);
  });
});
