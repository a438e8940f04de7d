import fc from 'fast-check';
import type { Filter, RawEvent } from './explore-oracle.js';
import { addDays, type StoredEvent } from './oracle.js';

/**
 * Random events and exploration questions for the property tests of the exploration engine
 * (test/stats/explore.property.test.ts) and of its HTTP routes
 * (test/routes/explore.property.test.ts): two projects with the same event ids, DST days,
 * odd offsets, ties, events out of order, awkward property values.
 */

// Kyiv moves to summer time on 2025-03-30; Santiago back to winter time on 2025-04-06
// (midnight becomes 23:00), Chatham from +13:45 to +12:45 the same day; Kathmandu is
// +05:45 all year.
export const ZONES = [
  'UTC',
  'Europe/Kyiv',
  'America/Santiago',
  'Asia/Kathmandu',
  'Pacific/Chatham',
];
export const FIRST_DAY = '2025-03-27';
const DAY0 = Date.parse(`${FIRST_DAY}T00:00:00Z`) / 1000;
export const DAYS = 12;
const ID_POOL = Array.from(
  { length: 80 },
  (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
);
export const USERS = ['u0', 'u1', 'u2', 'ü4'];
export const TYPES = ['a', 'b', 'c', 'Ωmega'];
// Quarter hours of a UTC day: every zone's local midnight is one of them (Kathmandu's and
// Chatham's too), so a few slots pile events on and around day boundaries, with ties.
const SLOTS = [0, 1, 4, 11, 12, 13, 40, 47, 48, 63, 90, 95];
export const KEYS = ['plan', 'build', 'premium', '', 'event_type', 'ключ'];
export const LITERALS = [
  '"pro"',
  '"free"',
  '"true"',
  '"1042"',
  '""',
  '"null"',
  '"a:b"',
  '"Ωmega"',
  '"$other"',
  '1042',
  '1042.0',
  '1.042e3',
  '-0',
  '9007199254740993',
  '1.50',
  '1e-2',
  'true',
  'false',
  'null',
  '{"plan":"pro"}',
  '[1042,"pro"]',
];
export const VALUES = [
  'pro',
  'free',
  'true',
  'false',
  '1042',
  '1042.0',
  '1000',
  '0',
  '0.01',
  '1.50',
  '9007199254740993',
  '',
  'null',
  'a:b',
  'Ωmega',
  '$other',
  'a',
  'b',
  'u1',
  'ü4',
  // jsonb's text of an object and an array: a filter must not match them.
  '{"plan": "pro"}',
  '[1042, "pro"]',
];
export const WINDOWS = [60, 15 * 60, 3600, 6 * 3600, 86_400, 2 * 86_400, 7 * 86_400];

/** µs since the epoch as ISO 8601 UTC with microseconds. */
export function isoMicros(us: number): string {
  const seconds = Math.floor(us / 1e6);
  const micros = us - seconds * 1e6;
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${String(micros).padStart(6, '0')}Z`;
}

const arbProperties = fc
  .uniqueArray(fc.record({ key: fc.constantFrom(...KEYS), value: fc.constantFrom(...LITERALS) }), {
    selector: (p) => p.key,
    maxLength: 4,
  })
  .map((ps) => `{${ps.map((p) => `${JSON.stringify(p.key)}:${p.value}`).join(',')}}`);

const arbEvent = fc
  .record({
    project_id: fc.constantFrom(1, 2),
    source: fc.constantFrom(0, 1, 4),
    event_id: fc.constantFrom(...ID_POOL),
    day: fc.noBias(fc.integer({ min: 0, max: DAYS - 1 })),
    slot: fc.constantFrom(...SLOTS),
    jitter: fc.constantFrom(0, 0, 0, -1, 1, 30),
    micros: fc.constantFrom(0, 0, 0, 1, 999_999),
    user_id: fc.constantFrom(...USERS),
    event_type: fc.constantFrom(...TYPES),
    properties: arbProperties,
    // Half the events follow an earlier one: at the same instant (ties between steps,
    // entries and day boundaries), or exactly a window's length later, or a little later
    // (funnel chains with different times between steps).
    follow: fc.option(
      fc.record({
        index: fc.nat(),
        seconds: fc.constantFrom(0, 0, 0, 1, 60, 900, 3600, 7200, 86_400, 172_800),
        // Mostly the same user's next event, so that users go through funnels.
        sameUser: fc.constantFrom(true, true, true, false),
      }),
      { freq: 2 },
    ),
  })
  .map(({ day, slot, jitter, micros, ...e }) => ({
    ...e,
    us: (DAY0 + day * 86_400 + slot * 900 + jitter) * 1e6 + micros,
  }));

/** Events, some moved after an earlier one (see `follow`). */
export const arbEvents = fc.array(arbEvent, { minLength: 40, maxLength: 120 }).map((events) =>
  events.reduce<RawEvent[]>((out, { follow, ...e }) => {
    const leader = follow && out.length > 0 ? out[follow.index % out.length] : undefined;
    if (!leader || !follow) out.push(e);
    else if (!follow.sameUser) out.push({ ...e, us: leader.us + follow.seconds * 1e6 });
    else
      out.push({
        ...e,
        us: leader.us + follow.seconds * 1e6,
        project_id: leader.project_id,
        user_id: leader.user_id,
      });
    return out;
  }, []),
);

export const arbDay = fc
  .oneof(fc.constantFrom(0, DAYS - 1), fc.noBias(fc.integer({ min: -1, max: DAYS })))
  .map((n) => addDays(FIRST_DAY, n));
export const arbFilter: fc.Arbitrary<Filter> = fc.record({
  key: fc.constantFrom(...KEYS, 'user_id'),
  value: fc.constantFrom(...VALUES),
});
export const arbQuery = fc.record({
  project: fc.constantFrom(1, 1, 1, 2),
  tz: fc.constantFrom(...ZONES),
  a: arbDay,
  b: arbDay,
  filters: fc.oneof(
    { weight: 3, arbitrary: fc.constant<Filter[]>([]) },
    { weight: 1, arbitrary: fc.array(arbFilter, { minLength: 1, maxLength: 2 }) },
  ),
  breakdown: fc.constantFrom(...KEYS, 'user_id'),
  valueLimit: fc.integer({ min: 1, max: 3 }),
  limit: fc.integer({ min: 1, max: 5 }),
  steps: fc.shuffledSubarray(TYPES, { minLength: 2, maxLength: 4 }),
  window: fc.constantFrom(...WINDOWS),
});

export const asStored = (events: RawEvent[]): StoredEvent[] =>
  events.map((e) => ({
    event_id: e.event_id,
    epochMs: Math.floor(e.us / 1000),
    user_id: e.user_id,
    event_type: e.event_type,
  }));

/** The first copy of each (project, source, event_id) is kept, as the dedup table (event_ids) keeps it. */
export function stored(events: RawEvent[]): RawEvent[] {
  const seen = new Map<string, RawEvent>();
  for (const e of events) {
    const key = `${e.project_id}/${e.source}/${e.event_id}`;
    if (!seen.has(key)) seen.set(key, e);
  }
  return [...seen.values()];
}
