import { randomUUID } from 'node:crypto';
import { createGzip, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { event } from '../helpers/events.js';
import {
  amplitudeEvent,
  metricValue,
  posthogEvent,
  segmentMessage,
} from '../helpers/ingest-requests.js';
import { emptyTables } from '../helpers/summaries.js';

let database: TestDatabase;
let app: FastifyInstance;
const MAX_BODY_BYTES = 256 * 1024;

beforeAll(async () => {
  database = await createTestDatabase();
  ({ app } = await buildTestApp(database, { maxBodyBytes: MAX_BODY_BYTES }));
});
afterAll(async () => {
  await app?.close();
  await database?.close();
});
beforeEach(async () => {
  await emptyTables(database.pool);
});

function send(url: string, payload: Buffer | string, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    payload,
  });
}

async function storedIds(): Promise<string[]> {
  const { rows } = await database.pool.query('SELECT event_id FROM events ORDER BY event_id');
  return rows.map((r) => r.event_id);
}

function expectError(
  res: { statusCode: number; json(): unknown },
  status: number,
  error: string,
  message?: RegExp,
) {
  expect(res.statusCode, JSON.stringify(res.json())).toBe(status);
  const body = res.json() as { error: string; message: string };
  expect(body.error).toBe(error);
  expect(typeof body.message).toBe('string');
  if (message) expect(body.message).toMatch(message);
}

/** One body per family with one message of this id, and where it goes. */
function bodies(id: string, properties: string) {
  const props = JSON.parse(properties); // only for shapes: tests with exact numbers build text
  return [
    { url: '/events', text: JSON.stringify([event({ event_id: id, properties: props })]) },
    {
      url: '/v1/batch',
      text: JSON.stringify({ batch: [segmentMessage(id, { properties: props })] }),
    },
    { url: '/batch/', text: JSON.stringify({ batch: [posthogEvent(id, { properties: props })] }) },
    {
      url: '/2/httpapi',
      text: JSON.stringify({ events: [amplitudeEvent(id, { event_properties: props })] }),
    },
  ];
}

/** Replaces the placeholder string "@PROPS@" in a JSON text by raw JSON text. */
function withRawProperties(text: string, raw: string): string {
  return text.replace('"@PROPS@"', () => raw); // a function: `raw` may hold $& or $'
}

describe('compressed bodies', () => {
  it.each(['gzip', 'deflate'] as const)(
    'Content-Encoding: %s works on POST /events and the SDK endpoints',
    async (encoding) => {
      for (const url of ['/events', '/v1/batch', '/batch/', '/2/httpapi']) {
        const text = bodies(randomUUID(), '{"a":1}').find((b) => b.url === url)?.text as string;
        const compressed = encoding === 'gzip' ? gzipSync(text) : deflateSync(text);
        const res = await send(url, compressed, { 'content-encoding': encoding });
        expect(res.statusCode, `${url}: ${res.body}`).toBeLessThan(300);
      }
      expect(await storedIds()).toHaveLength(4);
    },
  );

  it('content codings are case-insensitive; x-gzip is gzip (RFC 9110)', async () => {
    for (const encoding of ['GZIP', 'Gzip', 'x-gzip', 'DEFLATE']) {
      const text = JSON.stringify([event()]);
      const body = encoding === 'DEFLATE' ? deflateSync(text) : gzipSync(text);
      const res = await send('/events', body, { 'content-encoding': encoding });
      expect(res.statusCode, `${encoding}: ${res.body}`).toBe(202);
    }
  });

  it('Content-Encoding: identity is a plain body', async () => {
    const res = await send('/events', JSON.stringify([event()]), {
      'content-encoding': 'identity',
    });
    expect(res.statusCode).toBe(202);
  });

  it('a gzip bomb (50 MB of zeros in ~50 KB) is a 413, without holding the 50 MB in memory', async () => {
    const bomb = await new Promise<Buffer>((resolve, reject) => {
      const gzip = createGzip({ level: 9 });
      const chunks: Buffer[] = [];
      gzip.on('data', (c: Buffer) => chunks.push(c));
      gzip.on('end', () => resolve(Buffer.concat(chunks)));
      gzip.on('error', reject);
      const zeros = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < 50; i++) gzip.write(zeros);
      gzip.end();
    });
    expect(bomb.length).toBeLessThan(MAX_BODY_BYTES);

    const baseline = process.memoryUsage().arrayBuffers;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }, 2);
    try {
      for (const url of ['/events', '/v1/batch', '/batch/', '/2/httpapi']) {
        const res = await send(url, bomb, { 'content-encoding': 'gzip' });
        expect(res.statusCode, url).toBe(413);
        expect(res.json()).toMatchObject({ error: 'payload_too_large' });
      }
    } finally {
      clearInterval(sampler);
    }
    // The limit stops reading at 256 KiB decompressed; 50 MB would show here.
    expect(peak - baseline).toBeLessThan(20 * 1024 * 1024);
    expect(await storedIds()).toEqual([]);
  });

  it('a decompressed body over the limit is a 413 even when it is valid JSON', async () => {
    const big = JSON.stringify([event({ properties: { pad: 'x'.repeat(300 * 1024) } })]);
    const res = await send('/events', gzipSync(big), { 'content-encoding': 'gzip' });
    expectError(res, 413, 'payload_too_large');
  });

  it('invalid or truncated gzip/deflate data is a 400', async () => {
    const gz = gzipSync(JSON.stringify([event()]));
    for (const [encoding, payload] of [
      ['gzip', Buffer.from('this is not gzip')],
      ['gzip', gz.subarray(0, gz.length - 12)],
      ['deflate', Buffer.from('not deflate either')],
    ] as const) {
      const res = await send('/events', payload, { 'content-encoding': encoding });
      expect(res.statusCode, encoding).toBe(400);
      expect(res.json()).toMatchObject({ message: expect.stringMatching(/gzip|deflate|JSON/) });
      expect(res.json().error).toMatch(/^(bad_request|invalid_json)$/);
    }
    expect(await storedIds()).toEqual([]);
  });

  it.each(['br', 'zstd', 'xyz', 'compress'])('Content-Encoding: %s is a 415', async (encoding) => {
    for (const url of ['/events', '/v1/batch', '/e/', '/2/httpapi']) {
      const res = await send(url, JSON.stringify([event()]), { 'content-encoding': encoding });
      expectError(res, 415, 'unsupported_media_type', new RegExp(`Content-Encoding ${encoding}`));
    }
  });
});

describe('content type and charset', () => {
  it('refuses a charset other than UTF-8 with a 415', async () => {
    for (const url of ['/events', '/v1/batch', '/batch/']) {
      const res = await send(url, JSON.stringify([event()]), {
        'content-type': 'application/json; charset=iso-8859-1',
      });
      expectError(res, 415, 'unsupported_media_type', /iso-8859-1/);
    }
    const utf8 = await send('/events', JSON.stringify([event()]), {
      'content-type': 'application/json; charset="UTF-8"',
    });
    expect(utf8.statusCode).toBe(202);
  });

  it('refuses bytes that are not UTF-8 with a 400, never replacing them', async () => {
    for (const bad of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const before = Buffer.from(
        `[{"event_id":"${randomUUID()}","occurred_at":"2025-10-19T10:00:00Z","user_id":"u`,
      );
      const after = Buffer.from('","event_type":"login"}]');
      const res = await send('/events', Buffer.concat([before, Buffer.from(bad), after]));
      expectError(res, 400, 'invalid_json', /UTF-8/);
    }
    expect(await storedIds()).toEqual([]);
  });

  it('refuses unpaired surrogate escapes (\\ud800): jsonb cannot hold them, text would merge ids', async () => {
    const at = '"occurred_at":"2025-10-19T10:00:00Z"';
    for (const [field, raw] of [
      ['properties', '{"s":"\\ud800"}'],
      ['properties', '{"\\udc00key":1}'],
      ['user_id', '"u\\ud800"'],
      ['event_type', '"a\\udfff"'],
    ] as const) {
      const fields: Record<string, string> = {
        event_id: `"${randomUUID()}"`,
        user_id: '"u1"',
        event_type: '"login"',
      };
      fields[field] = raw;
      const text = `[{${at},${Object.entries(fields)
        .map(([k, v]) => `"${k}":${v}`)
        .join(',')}}]`;
      const res = await send('/events', text);
      expect(res.statusCode, `${field} ${raw}: ${res.body}`).toBe(422);
      expect(res.json().details).toEqual([expect.objectContaining({ index: 0, field })]);
    }
    // A well-formed pair written as escapes is fine, and stored as the character.
    const id = randomUUID();
    const res = await send(
      '/events',
      `[{"event_id":"${id}",${at},"user_id":"\\ud83d\\ude00","event_type":"login","properties":{"e":"\\ud83d\\ude00"}}]`,
    );
    expect(res.statusCode).toBe(202);
    const { rows } = await database.pool.query(
      'SELECT user_id, properties FROM events WHERE event_id = $1',
      [id],
    );
    expect(rows).toEqual([{ user_id: '😀', properties: { e: '😀' } }]);
  });

  it('an SDK message with an unpaired surrogate is skipped; the rest of its batch is stored', async () => {
    const good = randomUUID();
    const bad = randomUUID();
    const text = `{"batch":[${JSON.stringify(segmentMessage(good))},${JSON.stringify(
      segmentMessage(bad, { properties: '@PROPS@' }),
    ).replace('"@PROPS@"', () => '{"s":"\\ud800"}')}]}`;
    const res = await send('/v1/batch', text);
    expect(res.statusCode, res.body).toBe(200);
    expect(await storedIds()).toEqual([good]);
  });

  it('RudderStack: gzipped JSON sent as application/x-www-form-urlencoded works on /v1/batch', async () => {
    const id = randomUUID();
    const res = await send(
      '/v1/batch',
      gzipSync(JSON.stringify({ batch: [segmentMessage(id)], sentAt: new Date().toISOString() })),
      { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' },
    );
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({});
    expect(await storedIds()).toEqual([id]);
  });

  it('POST /events keeps refusing anything but application/json with a 415', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'application/xml']) {
      const res = await send('/events', JSON.stringify([event()]), { 'content-type': type });
      expectError(res, 415, 'unsupported_media_type');
    }
    const gzipped = await send('/events', gzipSync(JSON.stringify([event()])), {
      'content-type': 'application/x-www-form-urlencoded',
      'content-encoding': 'gzip',
    });
    expectError(gzipped, 415, 'unsupported_media_type');
    expect(await storedIds()).toEqual([]);
  });

  it('posthog-js: ?compression=gzip-js marks a gzip body sent without Content-Encoding', async () => {
    const ids = [randomUUID(), randomUUID()];
    const body = gzipSync(JSON.stringify(ids.map((id) => posthogEvent(id))));
    for (const [url, id] of [
      [`/e/?compression=gzip-js&ip=1&_=${Date.now()}&ver=1.200.0`, ids[0]],
      ['/batch?compression=gzip-js', ids[1]],
    ] as const) {
      const payload = url.startsWith('/e/')
        ? body
        : gzipSync(JSON.stringify({ batch: [posthogEvent(id as string)] }));
      const res = await send(url, payload, { 'content-type': 'text/plain' });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
      expect(res.json()).toEqual({ status: 1 });
    }
    expect(await storedIds()).toEqual([...ids].sort());
    // The flag with a body that is not gzip is a 400, not a crash.
    const plain = await send(
      '/e/?compression=gzip-js',
      JSON.stringify([posthogEvent(randomUUID())]),
    );
    expect(plain.statusCode).toBe(400);
  });
});

describe('JSON values are kept exactly', () => {
  const EXACT = '{"n":1e400,"id":9007199254740993,"s":12345678901234567890123,"f":0.1}';

  async function postgresRendering(jsonText: string): Promise<string> {
    const { rows } = await database.pool.query('SELECT $1::jsonb::text AS text', [jsonText]);
    return rows[0].text;
  }

  it('numbers beyond double precision are stored as sent, from every endpoint', async () => {
    const expected = await postgresRendering(EXACT);
    expect(expected).toContain('9007199254740993');
    expect(expected).toContain(`1${'0'.repeat(400)}`);
    const ids: string[] = [];
    for (const { url, text } of bodies(randomUUID(), '"@PROPS@"')) {
      const id = randomUUID();
      ids.push(id);
      const withId = text.replace(
        /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/,
        id,
      );
      const res = await send(url, withRawProperties(withId, EXACT));
      expect(res.statusCode, `${url}: ${res.body}`).toBeLessThan(300);
    }
    const { rows } = await database.pool.query(
      `SELECT event_id, properties::text AS text FROM events WHERE event_id = ANY ($1::uuid[])`,
      [ids],
    );
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      // SDK endpoints add nothing here: these bodies name no library.
      expect(row.text, row.event_id).toBe(expected);
    }
  });

  it('gzip keeps numbers exact too', async () => {
    const id = randomUUID();
    const text = withRawProperties(
      JSON.stringify([event({ event_id: id, properties: '@PROPS@' as never })]),
      EXACT,
    );
    expect((await send('/events', gzipSync(text), { 'content-encoding': 'gzip' })).statusCode).toBe(
      202,
    );
    const { rows } = await database.pool.query(
      'SELECT properties::text AS text FROM events WHERE event_id = $1',
      [id],
    );
    expect(rows[0].text).toBe(await postgresRendering(EXACT));
  });

  it('property: stored properties equal PostgreSQL reading the sent text (same text where PostgreSQL keeps it)', async () => {
    // Each number with whether its text survives: PostgreSQL's numeric keeps the scale
    // written (1.50, 0e-5), JavaScript's shortest rendering does not (a known limitation:
    // the value is equal, only its rendering differs).
    const exactText = fc.oneof(
      fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
      fc
        .tuple(
          fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }),
          fc.bigInt({ min: 1n, max: 10n ** 25n }),
        )
        .filter(([, f]) => f % 10n !== 0n)
        .map(([i, f]) => `${i}.${f}`),
      fc
        .tuple(
          fc.integer({ min: -9, max: 9 }).filter((m) => m !== 0),
          fc.integer({ min: -350, max: 350 }),
        )
        .map(([m, e]) => `${m}e${e}`),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
      fc.string({ unit: 'grapheme', maxLength: 8 }).map((t) => JSON.stringify(t)),
      fc.constantFrom('true', 'false', 'null', '[]', '{}', '[1,"a",{"b":null}]'),
    );
    const scaled = fc.oneof(
      fc.integer({ min: 0, max: 99 }).map((n) => `${n}.50`),
      fc.integer({ min: -9, max: 9 }).map((n) => `${n}.0`),
      fc.integer({ min: 1, max: 400 }).map((e) => `0e-${e}`),
      fc.integer({ min: 1, max: 9 }).map((n) => `${n}.10e1`),
    );
    const object = (value: fc.Arbitrary<string>) =>
      fc
        .uniqueArray(fc.tuple(fc.string({ maxLength: 6 }), value), {
          maxLength: 6,
          selector: ([k]) => k,
        })
        .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`);
    const exact = fc.sample(object(exactText), { numRuns: 200, seed: 8 });
    const approximate = fc.sample(object(fc.oneof(exactText, scaled)), { numRuns: 100, seed: 9 });
    const samples = [...exact, ...approximate];
    const ids = samples.map(() => randomUUID());
    const batch = `[${samples
      .map((props, i) =>
        withRawProperties(
          JSON.stringify(event({ event_id: ids[i], properties: '@PROPS@' as never })),
          props,
        ),
      )
      .join(',')}]`;
    const res = await send('/events', batch);
    expect(res.statusCode, res.body.slice(0, 500)).toBe(202);
    const { rows } = await database.pool.query(
      `SELECT p.n, e.properties::text = p.props::jsonb::text AS same_text,
              e.properties = p.props::jsonb AS same_value, e.properties::text AS stored, p.props
       FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS p(id, props, n)
       JOIN events e ON e.event_id = p.id ORDER BY p.n`,
      [ids, samples],
    );
    expect(rows).toHaveLength(samples.length);
    expect(rows.filter((r) => !r.same_value)).toEqual([]);
    expect(rows.slice(0, exact.length).filter((r) => !r.same_text)).toEqual([]);
  });

  it('__proto__, constructor and prototype keys are stored verbatim, nothing is polluted', async () => {
    const raw =
      '{"__proto__":{"polluted":"yes","isAdmin":true},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"x":1}}';
    const ids: string[] = [];
    for (const { url, text } of bodies(randomUUID(), '"@PROPS@"')) {
      const id = randomUUID();
      ids.push(id);
      const withId = text.replace(
        /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/,
        id,
      );
      const res = await send(url, withRawProperties(withId, raw));
      expect(res.statusCode, `${url}: ${res.body}`).toBeLessThan(300);
    }
    // The exact-number parser path too (a long number in the body).
    const risky = randomUUID();
    ids.push(risky);
    const riskyRaw = raw.replace('"x":1', '"x":12345678901234567890');
    const res = await send(
      '/events',
      withRawProperties(
        JSON.stringify([event({ event_id: risky, properties: '@PROPS@' as never })]),
        riskyRaw,
      ),
    );
    expect(res.statusCode).toBe(202);

    const { rows } = await database.pool.query(
      'SELECT event_id, properties::text AS text FROM events WHERE event_id = ANY ($1::uuid[])',
      [ids],
    );
    expect(rows).toHaveLength(5);
    const rendered = await postgresRendering(raw);
    const riskyRendered = await postgresRendering(riskyRaw);
    expect(rendered).toContain('"__proto__": {"isAdmin": true, "polluted": "yes"}');
    for (const row of rows) {
      expect(row.text, row.event_id).toBe(row.event_id === risky ? riskyRendered : rendered);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('metrics', () => {
  it('counts nothing as accepted for refused bodies', async () => {
    const before = await metricValue(app, 'events_ingest_accepted_total');
    await send('/events', Buffer.from([0xff]));
    await send('/events', 'x', { 'content-encoding': 'br' });
    expect(await metricValue(app, 'events_ingest_accepted_total')).toBe(before);
  });
});
