import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { event } from '../helpers/events.js';
import { bearer, newKey } from '../helpers/ingest-requests.js';
import { runProcess } from '../helpers/server-process.js';

/**
 * A project's raw_retention_days through the admin API and the projects CLI: set at
 * creation (RAW_RETENTION_DAYS by default), changed and cleared later, shown in the view,
 * validated, and enforced at once on ingest.
 */
let database: TestDatabase;
let app: FastifyInstance;
let admin: string;

beforeAll(async () => {
  database = await createTestDatabase();
  admin = await newKey(database.db, 'ops', 'admin');
  // As if RAW_RETENTION_DAYS=400 were set.
  ({ app } = await buildTestApp(
    database,
    { auth: 'required', rawRetentionDays: 400 },
    { keyCacheTtlMs: 50 },
  ));
});
afterAll(async () => {
  await app?.close();
  await database?.close();
});

const create = (payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/projects', headers: bearer(admin), payload });
const change = (slug: string, payload: Record<string, unknown>) =>
  app.inject({ method: 'PATCH', url: `/projects/${slug}`, headers: bearer(admin), payload });

describe('raw_retention_days over HTTP', () => {
  it('defaults to RAW_RETENTION_DAYS for a new project, takes a number or null, and shows it', async () => {
    const byDefault = await create({ slug: 'dflt' });
    expect(byDefault.statusCode, byDefault.body).toBe(201);
    expect(byDefault.json()).toMatchObject({ raw_retention_days: 400, raw_events_from: null });
    expect((await create({ slug: 'month', raw_retention_days: 30 })).json()).toMatchObject({
      raw_retention_days: 30,
    });
    expect((await create({ slug: 'forever', raw_retention_days: null })).json()).toMatchObject({
      raw_retention_days: null,
    });
    // The default project predates the setting: forever.
    const list = await app.inject({ url: '/projects', headers: bearer(admin) });
    expect(
      Object.fromEntries(
        list
          .json()
          .map((p: { slug: string; raw_retention_days: unknown }) => [
            p.slug,
            p.raw_retention_days,
          ]),
      ),
    ).toEqual({ default: null, dflt: 400, month: 30, forever: null });
  });

  it('PATCH sets and clears it; anything but 1 to 36500 or null is a 422 that changes nothing', async () => {
    const set = await change('forever', { raw_retention_days: 90 });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json().project.raw_retention_days).toBe(90);
    const cleared = await change('forever', { raw_retention_days: null });
    expect(cleared.json().project).toMatchObject({ slug: 'forever', raw_retention_days: null });
    for (const bad of [0, 36_501, -3, 1.5, 'thirty', false, [30]]) {
      const res = await change('month', { raw_retention_days: bad });
      expect({ bad, status: res.statusCode }).toEqual({ bad, status: 422 });
      expect((await create({ slug: 'bad', raw_retention_days: bad })).statusCode).toBe(422);
    }
    const { rows } = await database.pool.query(
      `SELECT raw_retention_days AS d FROM projects WHERE slug = 'month'`,
    );
    expect(rows[0].d).toBe(30);
  });

  it('a shorter horizon refuses older events at once (outside_retention)', async () => {
    const slug = 'strict';
    expect((await create({ slug, raw_retention_days: null })).statusCode).toBe(201);
    const created = await app.inject({
      method: 'POST',
      url: `/projects/${slug}/keys`,
      headers: bearer(admin),
      payload: { name: 'w', scope: 'write' },
    });
    const writer = created.json().key as string;
    const old = new Date(Date.now() - 10 * 86_400_000).toISOString();
    const send = () =>
      app.inject({
        method: 'POST',
        url: '/events',
        headers: bearer(writer),
        payload: [event({ occurred_at: old })],
      });
    expect((await send()).statusCode).toBe(202);
    expect((await change(slug, { raw_retention_days: 5 })).statusCode).toBe(200);
    const refused = await send();
    expect(refused.statusCode).toBe(422);
    expect(refused.json().details[0]).toMatchObject({ code: 'outside_retention' });
  });
});

describe('npm run projects -- --raw-retention-days', () => {
  const projects = (args: string[], env: Record<string, string> = {}) =>
    runProcess(['--import', 'tsx', 'src/cli/projects.ts', ...args], {
      DATABASE_URL: database.url,
      ...env,
    });
  const days = async (slug: string) =>
    (
      await database.pool.query('SELECT raw_retention_days AS d FROM projects WHERE slug = $1', [
        slug,
      ])
    ).rows[0]?.d;

  it('create takes N or none (RAW_RETENTION_DAYS when absent), set changes it, bad values exit 2', async () => {
    const a = await projects(['create', 'cli-a', '--raw-retention-days', '14'], {
      RAW_RETENTION_DAYS: '60',
    });
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain('raw kept 14 days');
    const b = await projects(['create', 'cli-b'], { RAW_RETENTION_DAYS: '60' });
    expect(b.code, b.stderr).toBe(0);
    expect(await days('cli-a')).toBe(14);
    expect(await days('cli-b')).toBe(60);
    const cleared = await projects(['set', 'cli-b', '--raw-retention-days', 'none']);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(cleared.stdout).toContain('raw kept forever');
    expect(await days('cli-b')).toBeNull();
    const bad = await projects(['set', 'cli-a', '--raw-retention-days', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--raw-retention-days must be/);
    expect(await days('cli-a')).toBe(14);
  }, 60_000);
});
