/**
 * POST /events throughput: 5000-event batches posted back to back over real HTTP, against
 * a baseline measured in the same run: the same batches as one plain
 * `INSERT ... SELECT FROM unnest ... ON CONFLICT DO NOTHING` each into a table with the
 * original service's schema (no summaries, no HTTP, no validation).
 *
 *   npm run bench:ingest -- [--batches 20] [--runs 5] [--index-variant "CREATE INDEX ... ON events ..."]
 *
 * --index-variant also posts every batch, in the same runs, to a second service whose
 * database has that extra index: what the index costs ingest (docs/exploration.md).
 */

import { randomUUID } from 'node:crypto';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createKysely, createPool } from '../src/db/pool.js';
import { benchServer, flag, freshDatabase, median, table } from './lib.js';

const BATCH = 5000;
const batches = Number(flag('batches', '20'));
const runs = Number(flag('runs', '5'));
const TYPES = ['view', 'click', 'login', 'search', 'purchase'];

function makeBatch(day: number) {
  return Array.from({ length: BATCH }, (_, i) => ({
    event_id: randomUUID(),
    occurred_at: new Date(Date.UTC(2025, 9, 1 + (day % 28), i % 24, i % 60)).toISOString(),
    user_id: `user_${Math.floor(Math.random() * 20_000)}`,
    event_type: TYPES[i % TYPES.length] as string,
    properties: { page: 'home', n: i },
  }));
}

const server = await benchServer();
const url = await freshDatabase(server.adminUrl, 'events_bench_ingest');
const pool = createPool(url, { max: 10 });
const db = createKysely(pool);
await pool.query(`CREATE TABLE plain_events (event_id uuid PRIMARY KEY, occurred_at timestamptz NOT NULL, user_id text NOT NULL,
  event_type text NOT NULL, properties jsonb NOT NULL DEFAULT '{}', received_at timestamptz NOT NULL DEFAULT now());
  CREATE INDEX ON plain_events (event_type); CREATE INDEX ON plain_events (user_id); CREATE INDEX ON plain_events (occurred_at);`);
const app = await buildApp({
  config: {
    ...loadConfig({}),
    logLevel: 'warn',
    maxBatchEvents: BATCH,
    maxBodyBytes: 64 * 1024 * 1024,
  },
  db,
  pool,
});
const address = await app.listen({ port: 0, host: '127.0.0.1' });

const indexVariant = process.argv.includes('--index-variant') ? flag('index-variant', '') : '';
const variant = indexVariant
  ? await (async () => {
      const vUrl = await freshDatabase(server.adminUrl, 'events_bench_ingest_index');
      const vPool = createPool(vUrl, { max: 10 });
      await vPool.query(indexVariant);
      const vDb = createKysely(vPool);
      const vApp = await buildApp({
        config: {
          ...loadConfig({}),
          logLevel: 'warn',
          maxBatchEvents: BATCH,
          maxBodyBytes: 64 * 1024 * 1024,
        },
        db: vDb,
        pool: vPool,
      });
      return { app: vApp, db: vDb, address: await vApp.listen({ port: 0, host: '127.0.0.1' }) };
    })()
  : undefined;
const withIndex: number[] = [];

async function postAll(base: string, bodies: string[]): Promise<number> {
  const started = performance.now();
  for (const body of bodies) {
    const res = await fetch(`${base}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    if (res.status !== 202)
      throw new Error(`POST /events answered ${res.status}: ${await res.text()}`);
  }
  return (batches * BATCH) / ((performance.now() - started) / 1000);
}

const service: number[] = [];
const baseline: number[] = [];
for (let run = 0; run < runs; run++) {
  const data = Array.from({ length: batches }, (_, d) => makeBatch(run * batches + d));
  const bodies = data.map((b) => JSON.stringify(b));
  // With the variant, its turn alternates with the service's, so neither always goes first.
  if (variant && run % 2 === 1) withIndex.push(await postAll(variant.address, bodies));
  service.push(await postAll(address, bodies));
  if (variant && run % 2 === 0) withIndex.push(await postAll(variant.address, bodies));

  const started = performance.now();
  for (const batch of data) {
    await pool.query(
      `INSERT INTO plain_events (event_id, occurred_at, user_id, event_type, properties)
       SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::jsonb[]) ON CONFLICT DO NOTHING`,
      [
        batch.map((e) => e.event_id),
        batch.map((e) => e.occurred_at),
        batch.map((e) => e.user_id),
        batch.map((e) => e.event_type),
        batch.map((e) => JSON.stringify(e.properties)),
      ],
    );
  }
  baseline.push((batches * BATCH) / ((performance.now() - started) / 1000));
  process.stderr.write(
    `run ${run + 1}/${runs}: service ${Math.round(service[run] as number)} events/s, baseline ${Math.round(baseline[run] as number)} events/s\n`,
  );
}

await app.close();
await db.destroy();
if (variant) {
  await variant.app.close();
  await variant.db.destroy();
}
await server.stop();

console.log(
  `\nPOST /events, ${batches} batches of ${BATCH} events per run, ${runs} runs, ${server.describe}\n`,
);
console.log(
  table(
    ['what', 'median events/s', 'ratio to baseline'],
    [
      [
        'POST /events over HTTP (validation + dedup insert + summaries)',
        Math.round(median(service)),
        (median(service) / median(baseline)).toFixed(2),
      ],
      ...(variant
        ? [
            [
              `the same with ${indexVariant}`,
              Math.round(median(withIndex)),
              (median(withIndex) / median(baseline)).toFixed(2),
            ],
          ]
        : []),
      [
        'baseline: plain unnest INSERT into the original schema',
        Math.round(median(baseline)),
        '1.00',
      ],
    ],
  ),
);
