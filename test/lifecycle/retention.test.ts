import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toStore, writeEvents } from '../../src/ingest/write-events.js';
import { maintainOnce } from '../../src/lifecycle/maintenance.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createProjectRow, summarySnapshot } from '../helpers/summaries.js';

/**
 * Retention with a fast-forwarded clock: maintenance told "now" is months later. Raw weeks
 * older than a project's horizon expire, every summary stays exact, shared weeks keep the
 * other projects' rows, and dedup rows go with their events.
 */
let database: TestDatabase;
let keep: number;
let short: number;
const DAY = 86_400_000;

/** Events over ten weeks from 2025-01-06 (a Monday), some users in both projects. */
function history(prefix: string, weeks: number[]) {
  const out = [];
  for (const week of weeks) {
    for (let i = 0; i < 12; i++) {
      out.push({
        event_id: `${prefix}${String(week).padStart(2, '0')}00000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        occurred_at: new Date(
          Date.UTC(2025, 0, 6) + week * 7 * DAY + i * 13 * 3_600_000,
        ).toISOString(),
        user_id: `u${(week * 5 + i) % 9}`,
        event_type: ['view', 'login', 'buy'][i % 3] as string,
        properties: JSON.stringify({ week, i }),
      });
    }
  }
  return out;
}

beforeAll(async () => {
  database = await createTestDatabase();
  keep = await createProjectRow(database.pool, 'keep', ['Europe/Kyiv']);
  short = await createProjectRow(database.pool, 'short', ['Asia/Kathmandu']);
  // "short" has weeks 0-9; "keep" only weeks 0, 1 and 8: weeks 2-7 hold short's rows alone.
  await writeEvents(
    database.db,
    toStore(short, 'events', history('1', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])),
  );
  await writeEvents(database.db, toStore(keep, 'segment', history('2', [0, 1, 8])));
});
afterAll(async () => {
  await database.close();
});

async function count(text: string, values: unknown[] = []): Promise<number> {
  const { rows } = await database.pool.query(text, values);
  return Number(rows[0].n);
}

describe('retention', () => {
  it('expires weeks older than the horizon, keeps every summary, drops weeks no project keeps', async () => {
    const summariesBefore = await summarySnapshot(database.pool);
    const partitionsBefore = await count('SELECT count(*) FROM analytics.event_partitions() AS n');
    // Without retention nothing expires, whatever the clock says.
    const idle = await maintainOnce(database.pool, Date.UTC(2030, 0, 1));
    expect(idle?.expired).toEqual([]);

    // short keeps 30 days; "now" is 2025-04-14 (week 14): the horizon is 2025-03-15, so
    // with a day's grace weeks 0-8 (ending on or before 2025-03-10) expire, week 9 stays.
    await database.pool.query('UPDATE projects SET raw_retention_days = 30 WHERE project_id = $1', [
      short,
    ]);
    const report = await maintainOnce(database.pool, Date.UTC(2025, 3, 14));
    expect(report?.expired.map((e) => e.partition)).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 8].map(
        (w) =>
          `events_w${new Date(Date.UTC(2025, 0, 6) + w * 7 * DAY).toISOString().slice(0, 10).replaceAll('-', '')}`,
      ),
    );
    expect(report?.expiredEvents).toBe(9 * 12);
    // Weeks 2-7 held short's rows only: dropped. Weeks 0, 1 and 8 stay for keep.
    expect(report?.dropped).toHaveLength(6);
    expect(await count('SELECT count(*) FROM analytics.event_partitions() AS n')).toBe(
      partitionsBefore - 6 + (report?.created.length ?? 0),
    );
    expect(await count('SELECT count(*) AS n FROM events WHERE project_id = $1', [short])).toBe(12);
    expect(await count('SELECT count(*) AS n FROM event_ids WHERE project_id = $1', [short])).toBe(
      12,
    );
    expect(await count('SELECT count(*) AS n FROM events WHERE project_id = $1', [keep])).toBe(36);
    expect(await count('SELECT count(*) AS n FROM event_ids WHERE project_id = $1', [keep])).toBe(
      36,
    );
    const { rows } = await database.pool.query(
      'SELECT raw_floor FROM projects WHERE project_id = $1',
      [short],
    );
    expect(rows[0].raw_floor.toISOString()).toBe(
      new Date(Date.UTC(2025, 0, 6) + 9 * 7 * DAY).toISOString(),
    );
    // Every summary as before, in every zone of both projects.
    expect(await summarySnapshot(database.pool)).toEqual(summariesBefore);
    // The expired counts are kept per user, type and local day.
    expect(
      await count(
        `SELECT sum(expired_events) AS n FROM type_user_days WHERE project_id = $1 AND zone_id = 0`,
        [short],
      ),
    ).toBe(9 * 12);

    // A second pass has nothing left to do.
    const again = await maintainOnce(database.pool, Date.UTC(2025, 3, 14));
    expect(again?.expired).toEqual([]);
    expect(again?.dropped).toEqual([]);
  });
});
