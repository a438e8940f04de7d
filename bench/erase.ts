/**
 * bench:erase: erasing one user with --user-events events (DELETE /users/{id}'s work,
 * analytics.erase_users) in a project of --events events, in every summary.
 *
 *   npm run bench:erase [-- --events 1000000 --user-events 10000 --runs 3]
 *
 * The `default` project (zones UTC and Europe/Kyiv) gets --events events of 50,000 users
 * generated in SQL with their summaries; then each run adds a fresh user with
 * --user-events events through the write path and times its erasure (median reported).
 * Target (issue 16): under 1 s for 10,000 events in a 10M-event project.
 */
import { randomUUID } from 'node:crypto';
import { migrateToLatest } from '../src/db/migrator.js';
import { createKysely, createPool } from '../src/db/pool.js';
import { toStore, writeEvents } from '../src/ingest/write-events.js';
import { eraseUsers } from '../src/lifecycle/erasure.js';
import {
  benchServer,
  databaseUrl,
  flag,
  freshDatabase,
  generateEvents,
  median,
  table,
  withClient,
} from './lib.js';

const EVENTS = Number(flag('events', '1000000'));
const USER_EVENTS = Number(flag('user-events', '10000'));
const RUNS = Number(flag('runs', '3'));

async function main() {
  const server = await benchServer();
  // The data of a previous run of the same size is reused (generating takes minutes); the
  // migrator still runs, so the current SQL functions are the ones measured.
  let url = databaseUrl(server.adminUrl, 'bench_erase');
  const stored = await withClient(url, (c) =>
    c.query<{ n: number }>('SELECT count(*)::int AS n FROM events'),
  ).then(
    (r) => r.rows[0]?.n,
    () => undefined,
  );
  if (stored === EVENTS) {
    const migrator = createKysely(createPool(url, { max: 1 }));
    await migrateToLatest(migrator);
    await migrator.destroy();
  } else {
    url = await freshDatabase(server.adminUrl, 'bench_erase');
    await withClient(url, (c) =>
      c.query(`SELECT analytics.set_project_zones(1, ARRAY['Europe/Kyiv'])`),
    );
    process.stdout.write(`${server.describe}; generating ${EVENTS} events with summaries...\n`);
    const t0 = performance.now();
    await generateEvents(url, { events: EVENTS, users: 50_000 });
    process.stdout.write(`generated in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }

  const pool = createPool(url, { max: 2 });
  const db = createKysely(pool);
  const seconds: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const user = `victim-${run}`;
    const events = Array.from({ length: USER_EVENTS }, (_, i) => ({
      event_id: randomUUID(),
      // Spread over the year, as a long-lived user's events are: every day of it.
      occurred_at: new Date(
        Date.UTC(2025, 0, 1) + ((i * 364) / USER_EVENTS) * 86_400_000,
      ).toISOString(),
      user_id: user,
      event_type: `t${i % 20}`,
      properties: '{"plan":"pro"}',
    }));
    for (let i = 0; i < events.length; i += 5000) {
      await writeEvents(db, toStore(1, 'events', events.slice(i, i + 5000)));
    }
    await withClient(url, (c) => c.query('ANALYZE events'));
    const started = performance.now();
    const [erased] = await eraseUsers(db, 1, [user]);
    const s = (performance.now() - started) / 1000;
    if (erased?.deleted_events !== USER_EVENTS) throw new Error(`erased ${erased?.deleted_events}`);
    seconds.push(s);
    process.stdout.write(`run ${run + 1}: erased ${USER_EVENTS} events in ${s.toFixed(3)} s\n`);
  }
  process.stdout.write(
    `\n${table(
      ['project events', 'user events', 'erase median s', 'min s', 'max s'],
      [
        [
          EVENTS.toLocaleString('en-US'),
          USER_EVENTS.toLocaleString('en-US'),
          median(seconds).toFixed(3),
          Math.min(...seconds).toFixed(3),
          Math.max(...seconds).toFixed(3),
        ],
      ],
    )}\n(${server.describe}, ${RUNS} runs)\n`,
  );
  await db.destroy();
  await server.stop();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
