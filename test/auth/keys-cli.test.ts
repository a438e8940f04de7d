import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { runProcess } from '../helpers/server-process.js';

/** The keys CLI as a user runs it (`npm run keys -- ...`): a child process on a real database. */
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
});

function keys(args: string[], databaseUrl = database.url) {
  return runProcess(['--import', 'tsx', 'src/cli/keys.ts', ...args], {
    DATABASE_URL: databaseUrl,
  });
}

function lastLine(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines[lines.length - 1] ?? '';
}

/** One message on stderr, no stack trace. */
function expectOneMessage(stderr: string, pattern: RegExp): void {
  expect(stderr).toMatch(/^keys failed: /);
  expect(stderr).toMatch(pattern);
  expect(stderr).not.toMatch(/^\s+at /m);
}

describe('keys CLI', () => {
  let writeKey: string;

  it('create prints the key alone on the last line of stdout and stores only its hash', async () => {
    const created = await keys(['create', 'web-site']);
    expect(created.code, created.stderr).toBe(0);
    writeKey = lastLine(created.stdout);
    expect(writeKey).toMatch(/^ea_[A-Za-z0-9_-]{43}$/);
    expect(created.stdout).toContain('scope write');

    const { rows } = await database.pool.query(
      'SELECT name, scope, key_hash, created_at, last_used_at, revoked_at, row_to_json(k)::text AS text FROM api_keys k',
    );
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row).toMatchObject({ name: 'web-site', scope: 'write', last_used_at: null });
    expect(row.revoked_at).toBeNull();
    expect(row.created_at).toBeInstanceOf(Date);
    expect(row.key_hash).toEqual(createHash('sha256').update(writeKey).digest());
    // Neither the key nor its random part is stored in any form that can be read back.
    const random = writeKey.slice(3);
    expect(row.text).not.toContain(random);
    expect(row.text).not.toContain(Buffer.from(writeKey).toString('hex'));
  });

  it('create takes --scope read and --scope all; each key is different', async () => {
    const read = await keys(['create', 'dashboard', '--scope', 'read']);
    const all = await keys(['create', 'ops.admin:1', '--scope=all']);
    expect(read.code, read.stderr).toBe(0);
    expect(all.code, all.stderr).toBe(0);
    const keysShown = [writeKey, lastLine(read.stdout), lastLine(all.stdout)];
    expect(new Set(keysShown).size).toBe(3);
    const { rows } = await database.pool.query('SELECT name, scope FROM api_keys ORDER BY name');
    expect(rows).toEqual([
      { name: 'dashboard', scope: 'read' },
      { name: 'ops.admin:1', scope: 'all' },
      { name: 'web-site', scope: 'write' },
    ]);
  });

  it('list shows names, scopes and dates, never a key', async () => {
    await database.pool.query(
      `UPDATE api_keys SET last_used_at = '2026-01-02T03:04:05Z' WHERE name = 'dashboard'`,
    );
    const listed = await keys(['list']);
    expect(listed.code, listed.stderr).toBe(0);
    const lines = listed.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const byName = Object.fromEntries(lines.map((l) => [l.split('\t')[0], l]));
    expect(byName['web-site']).toMatch(
      /\twrite\tcreated \d{4}-\d\d-\d\dT.*Z\tlast used never\tactive\tid \d+$/,
    );
    expect(byName.dashboard).toMatch(
      /\tread\t.*\tlast used 2026-01-02T03:04:05\.000000Z\tactive\tid \d+$/,
    );
    expect(byName['ops.admin:1']).toMatch(/\tall\t/);
    expect(listed.stdout).not.toContain(writeKey.slice(3));
    expect(listed.stdout).not.toMatch(/ea_[A-Za-z0-9_-]{20}/);
  });

  it('revoke NAME marks the key revoked; list says so; a second revoke is an error', async () => {
    const revoked = await keys(['revoke', 'web-site']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain('Revoked key "web-site"');
    const { rows } = await database.pool.query(
      `SELECT revoked_at FROM api_keys WHERE name = 'web-site'`,
    );
    expect(rows[0].revoked_at).toBeInstanceOf(Date);
    const listed = await keys(['list']);
    expect(listed.stdout).toMatch(/^web-site\twrite\t.*\trevoked \d{4}-/m);

    const again = await keys(['revoke', 'web-site']);
    expect(again.code).toBe(2);
    expectOneMessage(again.stderr, /no active key named "web-site"/);
    const unknown = await keys(['revoke', 'nobody']);
    expect(unknown.code).toBe(2);
    expectOneMessage(unknown.stderr, /no active key named "nobody"/);
  });

  it('refuses a duplicate name (revoked names stay taken) with exit 2 and stores nothing', async () => {
    for (const name of ['dashboard', 'web-site']) {
      const duplicate = await keys(['create', name]);
      expect(duplicate.code).toBe(2);
      expect(duplicate.stdout).toBe('');
      expectOneMessage(duplicate.stderr, new RegExp(`a key named "${name}" exists already`));
    }
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM api_keys');
    expect(rows[0].n).toBe(3);
  });

  it('bad usage: exit 2 with one message each, nothing stored', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['create', 'x', '--scope', 'root'],
        /--scope must be one of write, read, all, admin, got "root"/,
      ],
      [['create', 'x', '--project', 'nope'], /no project "nope"/],
      [['create', 'x', '--project', 'Bad Slug'], /--project must be a project slug/],
      [['create'], /^keys failed: usage: /],
      [['create', 'has space'], /NAME must be 1-64 characters/],
      [['list', 'extra'], /usage: keys create NAME/],
      [['rotate', 'x'], /usage: /],
      [['create', 'x', '--bogus'], /Unknown option '--bogus'/],
    ];
    const results = await Promise.all(cases.map(([args]) => keys(args)));
    results.forEach((result, i) => {
      expect(result.code, String(cases[i]?.[0])).toBe(2);
      expect(result.stdout).toBe('');
      expectOneMessage(result.stderr, cases[i]?.[1] as RegExp);
    });
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM api_keys');
    expect(rows[0].n).toBe(3);
  }, 90_000);

  it('an unreachable database: exit 1 with one clear sentence, no stack trace', async () => {
    const result = await keys(['list'], 'postgres://postgres@127.0.0.1:1/nowhere');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expectOneMessage(result.stderr, /^keys failed: cannot reach the database: .*ECONNREFUSED/);
  });
});
