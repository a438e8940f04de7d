/**
 * PostgreSQL CPU per call of the service's write (storeUniqueEvents, the exact statement the
 * server sends) by batch size, read from the backend's /proc/<pid>/schedstat (nanoseconds
 * on CPU), so waiting for other people's work on a shared machine does not count. A fit
 * of cost = fixed + per_event x n says what a transaction costs and what an event costs:
 * the two figures group commit trades against each other.
 */
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { createKysely, createPool } from '../src/db/pool.js';
import type { ValidEvent } from '../src/ingest/validate-event.js';
import { storeUniqueEvents, toStore } from '../src/ingest/write-events.js';
import type { IdSpace } from './clients-bodies.js';

function backendNanos(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

export interface PgCost {
  size: number;
  calls: number;
  /** Median backend CPU per call, µs. */
  perCall: number;
}

const TYPES = ['view', 'click', 'search', 'add_to_cart', 'purchase', 'signup', 'share'];

function events(ids: IdSpace, n: number): ValidEvent[] {
  const first = ids.take(n);
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    event_id: ids.id(first + i),
    occurred_at: new Date(now - ((first + i) % 5000)).toISOString(),
    user_id: `user_${((first + i) * 2_654_435_761) % 20_000}`,
    event_type: TYPES[(first + i) % TYPES.length] as string,
    properties: JSON.stringify({ order_id: `o-${first + i}`, revenue: 12.5, currency: 'USD' }),
  }));
}

export interface PgCostResult {
  costs: PgCost[];
  /** Fit of the per-call cost, µs. */
  fixed: number;
  perEvent: number;
  /** The same measure for pgbench's statement: a 1-row INSERT into the original schema. */
  plainInsert: number;
}

export async function measurePgCost(
  url: string,
  ids: IdSpace,
  sizes: number[],
): Promise<PgCostResult> {
  const db = createKysely(createPool(url, { max: 1 }));
  try {
    const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(db);
    const pid = (rows[0] as { pid: number }).pid;
    const costs: PgCost[] = [];
    for (const size of sizes) {
      // PL/pgSQL plans its statements on the first calls of a session: leave those out.
      for (let i = 0; i < 6; i++)
        await storeUniqueEvents(db, toStore(1, 'events', events(ids, size)));
      const calls = Math.max(10, Math.min(200, Math.round(4000 / size)));
      const samples: number[] = [];
      for (let i = 0; i < calls; i++) {
        const batch = toStore(1, 'events', events(ids, size));
        const before = backendNanos(pid);
        await storeUniqueEvents(db, batch);
        samples.push((backendNanos(pid) - before) / 1000);
      }
      samples.sort((a, b) => a - b);
      costs.push({ size, calls, perCall: samples[Math.floor(samples.length / 2)] as number });
    }
    const plain: number[] = [];
    for (let i = 0; i < 206; i++) {
      const [event] = events(ids, 1) as [ValidEvent];
      const before = backendNanos(pid);
      await sql`INSERT INTO plain_events (event_id, occurred_at, user_id, event_type, properties)
        VALUES (${event.event_id}, ${event.occurred_at}, ${event.user_id}, ${event.event_type},
                ${event.properties}) ON CONFLICT DO NOTHING`.execute(db);
      if (i >= 6) plain.push((backendNanos(pid) - before) / 1000);
    }
    plain.sort((a, b) => a - b);
    // Least squares of perCall = fixed + perEvent x size.
    const n = costs.length;
    const mx = costs.reduce((a, c) => a + c.size, 0) / n;
    const my = costs.reduce((a, c) => a + c.perCall, 0) / n;
    const sxy = costs.reduce((a, c) => a + (c.size - mx) * (c.perCall - my), 0);
    const sxx = costs.reduce((a, c) => a + (c.size - mx) ** 2, 0);
    const perEvent = sxx > 0 ? sxy / sxx : 0;
    return {
      costs,
      fixed: my - perEvent * mx,
      perEvent,
      plainInsert: plain[Math.floor(plain.length / 2)] as number,
    };
  } finally {
    await db.destroy();
  }
}
