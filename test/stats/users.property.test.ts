import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { getUser, searchUsers, userEvents } from '../../src/stats/users.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { byteCompare } from '../helpers/explore-oracle.js';
import { emptyRawEvents, insertRawEvents } from '../helpers/raw-events.js';
import { createProjectRow } from '../helpers/summaries.js';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  // Project 1 is `default`; the rows name projects 1 and 2 (and 3 for one test).
  for (const [slug, id] of [
    ['other', 2],
    ['third', 3],
  ] as const) {
    if ((await createProjectRow(database.pool, slug)) !== id)
      throw new Error(`expected project ${id}`);
  }
});
afterAll(async () => {
  await database.close();
});

interface Row {
  project_id: number;
  source: number;
  event_id: string;
  /** ISO 8601 UTC with microseconds, the form the module returns. */
  occurred_at: string;
  user_id: string;
  event_type: string;
  properties: string;
}

const ID_POOL = Array.from(
  { length: 30 },
  (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
);
// A few instants only: many events share one, so the order falls to (source, event_id).
const INSTANTS = [
  '2025-03-30T00:59:59.999999Z',
  '2025-03-30T01:00:00.000000Z',
  '2025-03-30T01:00:00.000001Z',
  '2025-04-01T12:00:00.000000Z',
];
const arbRow: fc.Arbitrary<Row> = fc.record({
  project_id: fc.constantFrom(1, 2),
  source: fc.constantFrom(0, 1, 3),
  event_id: fc.constantFrom(...ID_POOL),
  occurred_at: fc.constantFrom(...INSTANTS),
  user_id: fc.constantFrom('u1', 'u2', 'u%', 'u_'),
  event_type: fc.constantFrom('view', 'buy', 'Ωmega'),
  properties: fc.constantFrom(
    '{}',
    '{"n": 9007199254740993}',
    '{"x": 1.50, "big": 1e400, "s": "a\\"b"}',
    '{"plan": "pro", "nested": {"deep": [1, null, true]}}',
  ),
});

async function insert(rows: Row[]) {
  await insertRawEvents(database.pool, rows);
}

/** The newest-first order the timeline promises: occurred_at, source, event_id, descending. */
function newestFirst(a: Row, b: Row): number {
  return (
    byteCompare(b.occurred_at, a.occurred_at) ||
    b.source - a.source ||
    byteCompare(b.event_id, a.event_id)
  );
}

function firstCopies(rows: Row[]): Row[] {
  const seen = new Map<string, Row>();
  for (const r of rows) {
    const key = `${r.project_id}/${r.source}/${r.event_id}`;
    if (!seen.has(key)) seen.set(key, r);
  }
  return [...seen.values()];
}

/** The properties as PostgreSQL's jsonb text writes them. */
async function jsonbText(text: string): Promise<string> {
  const { rows } = await database.pool.query('SELECT $1::jsonb::text AS t', [text]);
  return rows[0].t;
}

describe('user look-ups equal the stored rows', () => {
  it('profile, timeline pages (while events arrive between pages) and search, per project', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbRow, { minLength: 1, maxLength: 40 }),
        fc.array(arbRow, { maxLength: 10 }),
        fc.integer({ min: 1, max: 7 }),
        fc.constantFrom(1, 2),
        fc.constantFrom('u1', 'u2', 'u%', 'u_', 'nobody'),
        async (before, during, pageSize, project, user) => {
          await emptyRawEvents(database.pool);
          await insert(before);
          const kept = firstCopies(before).filter(
            (r) => r.project_id === project && r.user_id === user,
          );

          const profile = await getUser(database.db, project, user);
          if (kept.length === 0) {
            expect(profile).toBeUndefined();
          } else {
            const counts = new Map<string, number>();
            for (const r of kept) counts.set(r.event_type, (counts.get(r.event_type) ?? 0) + 1);
            const times = kept.map((r) => r.occurred_at).sort();
            expect(profile).toEqual({
              user_id: user,
              first_seen_at: times[0],
              last_seen_at: times[times.length - 1],
              events: kept.length,
              event_types: [...counts]
                .sort(([a, x], [b, y]) => y - x || byteCompare(a, b))
                .map(([event_type, count]) => ({ event_type, count })),
            });
          }

          // Page through; after the first page more events arrive (new ones and duplicates).
          const seen: string[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const page = await userEvents(database.db, project, user, {
              limit: pageSize,
              ...(cursor ? { before: cursor } : {}),
            });
            expect(page.events.length).toBeLessThanOrEqual(pageSize);
            for (const e of page.events) {
              seen.push(`${e.occurred_at}|${e.event_id}|${e.event_type}|${e.properties_json}`);
            }
            if (pages === 0) await insert(during);
            cursor = page.next_cursor ?? undefined;
            pages++;
          } while (cursor);

          // Every event stored before paging appears exactly once, in order; events that
          // arrived meanwhile appear only at their place in the order, never twice.
          const all = firstCopies([...before, ...during]).filter(
            (r) => r.project_id === project && r.user_id === user,
          );
          const expected = await Promise.all(
            all
              .sort(newestFirst)
              .map(
                async (r) =>
                  `${r.occurred_at}|${r.event_id}|${r.event_type}|${await jsonbText(r.properties)}`,
              ),
          );
          expect(new Set(seen).size).toBe(seen.length);
          for (const r of kept) {
            const line = `${r.occurred_at}|${r.event_id}|${r.event_type}|${await jsonbText(r.properties)}`;
            expect(seen).toContain(line);
          }
          expect(seen).toEqual(expected.filter((line) => seen.includes(line)));
          expect(seen.length).toBeGreaterThanOrEqual(kept.length);

          const found = await searchUsers(database.db, project, 'u', 100);
          const ids = [
            ...new Set(
              firstCopies([...before, ...during])
                .filter((r) => r.project_id === project)
                .map((r) => r.user_id),
            ),
          ].sort(byteCompare);
          expect(found.map((f) => f.user_id)).toEqual(ids);
          // LIKE characters in a prefix are plain characters.
          expect(
            (await searchUsers(database.db, project, 'u%', 100)).map((f) => f.user_id),
          ).toEqual(ids.filter((id) => id.startsWith('u%')));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('keeps every digit of stored numbers', async () => {
    await emptyRawEvents(database.pool);
    const text = '{"n": 9007199254740993, "x": 0.1000000000000000055511151231257827, "e": 1e400}';
    await insert([
      {
        project_id: 3,
        source: 0,
        event_id: ID_POOL[0] as string,
        occurred_at: INSTANTS[0] as string,
        user_id: 'big',
        event_type: 'n',
        properties: text,
      },
    ]);
    const page = await userEvents(database.db, 3, 'big');
    expect(page.events[0]?.properties_json).toContain('9007199254740993');
    expect(page.events[0]?.properties_json).toBe(await jsonbText(text));
    expect(page.events[0]?.occurred_at).toBe(INSTANTS[0]);
    expect(page.next_cursor).toBeNull();
  });

  it('refuses a cursor it did not make, and limits out of range', async () => {
    for (const before of ['', 'abc', Buffer.from('1.2.3').toString('base64url')]) {
      await expect(userEvents(database.db, 1, 'u1', { before })).rejects.toBeInstanceOf(ApiError);
    }
    await expect(userEvents(database.db, 1, 'u1', { limit: 0 })).rejects.toBeInstanceOf(ApiError);
    await expect(userEvents(database.db, 1, 'u1', { limit: 1001 })).rejects.toBeInstanceOf(
      ApiError,
    );
    await expect(searchUsers(database.db, 1, 'u', 0)).rejects.toBeInstanceOf(ApiError);
  });
});
