import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { event } from '../helpers/events.js';
import { bearer, newKey, segmentMessage } from '../helpers/ingest-requests.js';

/**
 * Projects end to end over HTTP with AUTH=required: the admin API, keys per project, and
 * that a key never reaches another project (404, nothing written).
 */
let database: TestDatabase;
let app: FastifyInstance;
let instanceAdmin: string;
let defaultReader: string;

beforeAll(async () => {
  database = await createTestDatabase();
  instanceAdmin = await newKey(database.db, 'ops', 'admin');
  defaultReader = await newKey(database.db, 'reader', 'read');
  ({ app } = await buildTestApp(database, { auth: 'required' }, { keyCacheTtlMs: 200 }));
});
afterAll(async () => {
  await app?.close();
  await database?.close();
});

const as = (key: string) => bearer(key);

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await database.pool.query(sql, params);
  return rows[0].n;
}

describe('the admin API', () => {
  let webAdmin: string;
  let webWriter: string;
  let webReader: string;

  it('creates a project with its zones (main first, UTC kept), refuses a taken or malformed slug', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/projects',
      headers: as(instanceAdmin),
      payload: { slug: 'web', name: 'Web app', time_zones: ['Europe/Kyiv'] },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      slug: 'web',
      name: 'Web app',
      time_zones: ['Europe/Kyiv', 'UTC'],
    });
    const again = await app.inject({
      method: 'POST',
      url: '/projects',
      headers: as(instanceAdmin),
      payload: { slug: 'web' },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toBe('conflict');
    for (const payload of [
      { slug: 'Web' },
      { slug: '' },
      { slug: 'x'.repeat(41) },
      { slug: 'ok', time_zones: ['Mars/Olympus'] },
      { slug: 'ok', time_zones: ['UTC', 'Etc/UTC'] },
      { slug: 'ok', extra: 1 },
    ]) {
      const res = await app.inject({
        method: 'POST',
        url: '/projects',
        headers: as(instanceAdmin),
        payload,
      });
      expect({ payload, status: res.statusCode }).toEqual({ payload, status: 422 });
    }
    const list = await app.inject({ url: '/projects', headers: as(instanceAdmin) });
    expect(list.json().map((p: { slug: string }) => p.slug)).toEqual(['default', 'web']);
  });

  it('creates, lists and revokes keys of a project; the key itself is shown once', async () => {
    const make = async (name: string, scope: string) => {
      const res = await app.inject({
        method: 'POST',
        url: '/projects/web/keys',
        headers: as(instanceAdmin),
        payload: { name, scope },
      });
      expect(res.statusCode).toBe(201);
      return res.json() as { id: number; key: string; name: string; scope: string };
    };
    webAdmin = (await make('web-admin', 'admin')).key;
    webWriter = (await make('web-writer', 'write')).key;
    webReader = (await make('web-reader', 'read')).key;
    const doomed = await make('doomed', 'write');
    const dup = await app.inject({
      method: 'POST',
      url: '/projects/web/keys',
      headers: as(instanceAdmin),
      payload: { name: 'doomed', scope: 'read' },
    });
    expect(dup.statusCode).toBe(409);

    const listed = await app.inject({ url: '/projects/web/keys', headers: as(webAdmin) });
    expect(listed.statusCode).toBe(200);
    expect(listed.json().map((k: { name: string }) => k.name)).toEqual([
      'web-admin',
      'web-writer',
      'web-reader',
      'doomed',
    ]);
    expect(JSON.stringify(listed.json())).not.toContain(doomed.key);

    const revoked = await app.inject({
      method: 'DELETE',
      url: `/projects/web/keys/${doomed.id}`,
      headers: as(webAdmin),
    });
    expect(revoked.statusCode).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the key cache
    const refused = await app.inject({
      method: 'POST',
      url: '/events',
      headers: as(doomed.key),
      payload: [event()],
    });
    expect(refused.statusCode).toBe(401);
  });

  it("a project's admin key manages its project only; other projects are a 404 to it", async () => {
    const own = await app.inject({ url: '/projects', headers: as(webAdmin) });
    expect(own.json().map((p: { slug: string }) => p.slug)).toEqual(['web']);
    for (const [method, url] of [
      ['PATCH', '/projects/default'],
      ['DELETE', '/projects/default'],
      ['GET', '/projects/default/keys'],
      ['POST', '/projects/default/keys'],
      ['DELETE', '/projects/default/keys/1'],
      ['PATCH', '/projects/nonexistent'],
    ] as const) {
      const res = await app.inject({
        method,
        url,
        headers: as(webAdmin),
        payload:
          method === 'PATCH'
            ? { name: 'x' }
            : method === 'POST'
              ? { name: 'x', scope: 'read' }
              : undefined,
      });
      expect({ method, url, status: res.statusCode, error: res.json().error }).toEqual({
        method,
        url,
        status: 404,
        error: 'not_found',
      });
    }
    // Only an admin of the default project creates projects.
    const create = await app.inject({
      method: 'POST',
      url: '/projects',
      headers: as(webAdmin),
      payload: { slug: 'sneaky' },
    });
    expect(create.statusCode).toBe(403);
    // Reading keys and writing events are not admin's business; admin routes are not theirs.
    expect((await app.inject({ url: '/stats/dau', headers: as(webAdmin) })).statusCode).toBe(403);
    expect(
      (await app.inject({ url: '/projects/web/keys', headers: as(webWriter) })).statusCode,
    ).toBe(403);
    expect((await app.inject({ url: '/projects/web/keys' })).statusCode).toBe(401);
  });

  it('keys decide the project: a key never reads or writes another project', async () => {
    const id = randomUUID();
    const own = await app.inject({
      method: 'POST',
      url: '/events',
      headers: as(webWriter),
      payload: [event({ event_id: id, user_id: 'web-user' })],
    });
    expect(own.statusCode).toBe(202);
    // Naming another project with the key: 404, and nothing is written anywhere.
    const other = await app.inject({
      method: 'POST',
      url: '/events',
      headers: { ...as(webWriter), 'x-project': 'default' },
      payload: [event({ user_id: 'smuggled' })],
    });
    expect(other.statusCode).toBe(404);
    const viaQuery = await app.inject({
      method: 'POST',
      url: '/events?project=default',
      headers: as(webWriter),
      payload: [event({ user_id: 'smuggled' })],
    });
    expect(viaQuery.statusCode).toBe(404);
    expect(await count(`SELECT count(*)::int AS n FROM events WHERE user_id = 'smuggled'`)).toBe(0);
    // The SDK's own key field picks the project too.
    const segment = await app.inject({
      method: 'POST',
      url: '/v1/batch',
      payload: { writeKey: webWriter, batch: [segmentMessage('msg-1', { userId: 'sdk-user' })] },
    });
    expect(segment.statusCode).toBe(200);
    const { rows } = await database.pool.query(
      `SELECT p.slug, e.user_id FROM events e JOIN projects p USING (project_id) ORDER BY 2`,
    );
    expect(rows).toEqual([
      { slug: 'web', user_id: 'sdk-user' },
      { slug: 'web', user_id: 'web-user' },
    ]);
    // Reads: each read key sees its own project.
    const web = await app.inject({
      url: '/stats/dau?from=2025-10-19&to=2025-10-19&tz=UTC',
      headers: as(webReader),
    });
    expect(web.json()).toEqual([{ date: '2025-10-19', unique_users: 2 }]);
    const def = await app.inject({
      url: '/stats/dau?from=2025-10-19&to=2025-10-19&tz=UTC',
      headers: as(defaultReader),
    });
    expect(def.json()).toEqual([{ date: '2025-10-19', unique_users: 0 }]);
    const peek = await app.inject({
      url: '/stats/dau?from=2025-10-19&to=2025-10-19&project=web',
      headers: as(defaultReader),
    });
    expect(peek.statusCode).toBe(404);
  });

  it("/stats without tz answers in the project's main zone, and says which path answered", async () => {
    // 2025-10-19T22:30Z is 2025-10-20 in Kyiv (UTC+3).
    await app.inject({
      method: 'POST',
      url: '/events',
      headers: as(webWriter),
      payload: [event({ user_id: 'late', occurred_at: '2025-10-19T22:30:00Z' })],
    });
    const main = await app.inject({
      url: '/stats/dau?from=2025-10-20&to=2025-10-20',
      headers: as(webReader),
    });
    expect(main.json()).toEqual([{ date: '2025-10-20', unique_users: 1 }]);
    expect(main.headers['server-timing']).toMatch(/^summaries;desc="reporting zone Europe\/Kyiv"/);
    const raw = await app.inject({
      url: '/stats/dau?from=2025-10-20&to=2025-10-20&tz=Asia/Tokyo',
      headers: as(webReader),
    });
    expect(raw.json()).toEqual([{ date: '2025-10-20', unique_users: 1 }]);
    expect(raw.headers['server-timing']).toMatch(
      /^raw-events;desc="Asia\/Tokyo is not a reporting zone of this project"/,
    );
  });

  it('changes zones over HTTP, building the new one from the project’s events', async () => {
    const res = await app.inject({
      method: 'PATCH',
      url: '/projects/web',
      headers: as(webAdmin),
      payload: { time_zones: ['Asia/Tokyo', 'Europe/Kyiv'] },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      project: { slug: 'web', time_zones: ['Asia/Tokyo', 'Europe/Kyiv', 'UTC'] },
      built_time_zones: ['Asia/Tokyo'],
    });
    const tokyo = await app.inject({
      url: '/stats/dau?from=2025-10-20&to=2025-10-20',
      headers: as(webReader),
    });
    expect(tokyo.json()).toEqual([{ date: '2025-10-20', unique_users: 1 }]);
    expect(tokyo.headers['server-timing']).toMatch(/^summaries;desc="reporting zone Asia\/Tokyo"/);
    const empty = await app.inject({
      method: 'PATCH',
      url: '/projects/web',
      headers: as(webAdmin),
      payload: {},
    });
    expect(empty.statusCode).toBe(422);
  });

  it('deletes a project with its events, summaries and keys in one go; default cannot be deleted', async () => {
    const refused = await app.inject({
      method: 'DELETE',
      url: '/projects/default',
      headers: as(instanceAdmin),
    });
    expect(refused.statusCode).toBe(409);
    const res = await app.inject({
      method: 'DELETE',
      url: '/projects/web',
      headers: as(instanceAdmin),
    });
    expect(res.statusCode).toBe(200);
    const deleted = res.json();
    expect(deleted).toMatchObject({ slug: 'web', events: 3, users: 3, event_types: 2, keys: 4 });
    expect(deleted.summary_rows).toBeGreaterThan(0);
    for (const table of [
      'events',
      'event_ids',
      'users',
      'event_types',
      'user_days',
      'type_day_counts',
    ]) {
      expect(await count(`SELECT count(*)::int AS n FROM ${table} WHERE project_id <> 1`)).toBe(0);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const gone = await app.inject({ url: '/stats/dau', headers: as(webReader) });
    expect(gone.statusCode).toBe(401);
  });
});

describe('with AUTH=off', () => {
  let open: FastifyInstance;
  beforeAll(async () => {
    ({ app: open } = await buildTestApp(database, { auth: 'off' }));
    await open.inject({ method: 'POST', url: '/projects', payload: { slug: 'mobile' } });
  });
  afterAll(async () => {
    await open?.close();
  });

  it('the default project, or the one named by X-Project or ?project=; an unknown one is a 404', async () => {
    const post = (headers: Record<string, string>, url = '/events') =>
      open.inject({
        method: 'POST',
        url,
        headers,
        payload: [event({ occurred_at: '2025-11-01T10:00:00Z', user_id: randomUUID() })],
      });
    expect((await post({})).statusCode).toBe(202);
    expect((await post({ 'x-project': 'mobile' })).statusCode).toBe(202);
    expect((await post({}, '/events?project=mobile')).statusCode).toBe(202);
    expect((await post({ 'x-project': 'nope' })).statusCode).toBe(404);
    const dau = async (query: string) =>
      (await open.inject(`/stats/dau?from=2025-11-01&to=2025-11-01${query}`)).json()[0]
        .unique_users;
    expect(await dau('')).toBe(1);
    expect(await dau('&project=mobile')).toBe(2);
    const list = await open.inject('/projects');
    expect(list.json().map((p: { slug: string }) => p.slug)).toEqual(['default', 'mobile']);
  });
});
