import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../src/auth/keys.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { event } from '../helpers/events.js';
import { newKey } from '../helpers/ingest-requests.js';
import { createProjectRow, summarySnapshot } from '../helpers/summaries.js';

/**
 * Every operation of the OpenAPI document the app serves (so routes added later are
 * covered), sent with keys of another project, of every scope, aiming at a victim project
 * in every way a request can name one (X-Project, ?project=, the path's slug, the SDK's body
 * key): no answer ever carries the victim's data, and the victim's data never changes.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const SECRET_USER = 'victim-secret-user';
const SECRET_TYPE = 'victim-secret-type';

let database: TestDatabase;
let app: FastifyInstance;
let victimKeyId: number;
const attacker: Record<Scope, string> = { write: '', read: '', all: '', admin: '' };

/** Routes that hold no project's data and answer anyone. */
const PUBLIC = new Set(['/healthz', '/metrics']);

interface Operation {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body: unknown;
}
let operations: Operation[];

/** What the victim holds, read straight from the database. */
async function victimState(): Promise<unknown> {
  const { rows } = await database.pool.query(`
    SELECT (SELECT count(*) FROM events WHERE project_id = 2)::int AS events,
           (SELECT string_agg(name || ':' || scope || ':' || coalesce(revoked_at::text, ''), ',' ORDER BY name)
              FROM api_keys WHERE project_id = 2) AS keys,
           (SELECT name FROM projects WHERE project_id = 2) AS name,
           (SELECT string_agg(zone_id::text, ',' ORDER BY position) FROM project_zones WHERE project_id = 2) AS zones`);
  const summaries = await summarySnapshot(database.pool);
  const victimRows = Object.fromEntries(
    Object.entries(summaries).map(([table, rowsOf]) => [
      table,
      rowsOf.filter((r) => r.startsWith('["victim"')),
    ]),
  );
  return { ...rows[0], victimRows };
}

beforeAll(async () => {
  database = await createTestDatabase();
  expect(await createProjectRow(database.pool, 'victim', ['Europe/Kyiv'])).toBe(2);
  expect(await createProjectRow(database.pool, 'attacker', [])).toBe(3);
  const victimKey = await newKey(database.db, 'victim-writer', 'write', 2);
  for (const scope of Object.keys(attacker) as Scope[]) {
    attacker[scope] = await newKey(database.db, `attacker-${scope}`, scope, 3);
  }
  const { rows } = await database.pool.query(
    `SELECT key_id FROM api_keys WHERE name = 'victim-writer'`,
  );
  victimKeyId = rows[0].key_id;
  ({ app } = await buildTestApp(database, { auth: 'required' }));
  const seeded = await app.inject({
    method: 'POST',
    url: '/events',
    headers: { authorization: `Bearer ${victimKey}` },
    payload: Array.from({ length: 5 }, (_, i) =>
      event({ user_id: `${SECRET_USER}-${i}`, event_type: SECRET_TYPE }),
    ),
  });
  expect(seeded.statusCode).toBe(202);

  const doc = (await app.inject('/docs/json')).json();
  operations = [];
  for (const [path, item] of Object.entries<Record<string, Record<string, unknown>>>(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'patch', 'delete'].includes(method)) continue;
      const content = (op.requestBody as { content?: Record<string, { example?: unknown }> })
        ?.content;
      operations.push({
        method: method.toUpperCase() as Operation['method'],
        path,
        body: content?.['application/json']?.example,
      });
    }
  }
  expect(operations.length).toBeGreaterThan(30);
});
afterAll(async () => {
  await app?.close();
  await database?.close();
});

/** A body for an operation: its documented example, or one that passes its schema. */
function bodyFor(op: Operation, key: string, bodyKey: boolean): unknown {
  if (op.path === '/projects') return { slug: `new-${randomUUID().slice(0, 8)}` };
  if (op.path === '/projects/{slug}') return { name: 'taken over', time_zones: ['UTC'] };
  if (op.path === '/projects/{slug}/keys') return { name: 'backdoor', scope: 'admin' };
  if (op.path === '/events') return [event({ user_id: 'smuggled', event_type: 'smuggled' })];
  const example = op.body;
  if (!bodyKey || typeof example !== 'object' || example === null || Array.isArray(example)) {
    return example;
  }
  // The SDK's own key fields, holding the attacker's key.
  return { ...example, writeKey: key, api_key: key, token: key };
}

describe("another project's keys", () => {
  it('never read or change the victim project, on any operation, however they name it', async () => {
    const before = await victimState();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 10_000 }),
        fc.constantFrom(...(Object.keys(attacker) as Scope[])),
        fc.constantFrom('header', 'query', 'both', 'none'),
        fc.boolean(),
        async (pick, scope, naming, bodyKey) => {
          const op = operations[pick % operations.length] as Operation;
          const key = attacker[scope];
          const path = op.path.replace('{slug}', 'victim').replace('{id}', String(victimKeyId));
          const query = naming === 'query' || naming === 'both' ? '?project=victim' : '';
          const headers: Record<string, string> = { authorization: `Bearer ${key}` };
          if (naming === 'header' || naming === 'both') headers['x-project'] = 'victim';
          const body = bodyFor(op, key, bodyKey);
          const res = await app.inject({
            method: op.method,
            url: `${path}${query}`,
            headers:
              body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
            payload: body === undefined ? undefined : JSON.stringify(body),
          });
          expect(res.statusCode, `${op.method} ${path}`).not.toBe(500);
          expect(res.body).not.toContain(SECRET_USER);
          expect(res.body).not.toContain(SECRET_TYPE);
          // Naming the victim is a 404 (or the key's scope is refused first), never a success.
          if (!PUBLIC.has(op.path) && (naming !== 'none' || op.path.includes('{slug}'))) {
            expect(
              [400, 401, 403, 404, 405, 413, 415, 422],
              `${op.method} ${path}${query}`,
            ).toContain(res.statusCode);
          }
        },
      ),
      { numRuns: RUNS },
    );
    // Every operation once more with every scope and the slug in the path, header and query.
    for (const op of operations) {
      for (const key of Object.values(attacker)) {
        const path = op.path.replace('{slug}', 'victim').replace('{id}', String(victimKeyId));
        const body = bodyFor(op, key, true);
        const res = await app.inject({
          method: op.method,
          url: `${path}?project=victim`,
          headers: {
            authorization: `Bearer ${key}`,
            'x-project': 'victim',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          payload: body === undefined ? undefined : JSON.stringify(body),
        });
        expect(res.body).not.toContain(SECRET_USER);
        expect(res.body).not.toContain(SECRET_TYPE);
        if (!PUBLIC.has(op.path)) {
          expect(res.statusCode, `${op.method} ${path}`).not.toBeLessThan(400);
        }
      }
    }
    expect(await victimState()).toEqual(before);
    // The victim still works with its own key, and nothing smuggled reached it.
    const { rows } = await database.pool.query(
      `SELECT count(*)::int AS n FROM events WHERE project_id = 2 AND user_id = 'smuggled'`,
    );
    expect(rows[0].n).toBe(0);
  }, 240_000);
});
