import { readFileSync } from 'node:fs';
import http from 'node:http';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createKeys } from '../helpers/ingest-requests.js';
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js';

/**
 * Requests generated from the OpenAPI document the app serves (so endpoints added later are
 * covered without touching this file), valid and broken, against a real database. Default
 * run is modest for `npm test`; FUZZ_RUNS=5000 for a long one.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

type Schema = {
  type?: string | string[];
  format?: string;
  pattern?: string;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  $ref?: string;
  examples?: unknown[];
  example?: unknown;
};

interface Operation {
  method: string;
  path: string;
  query: { name: string; required: boolean; schema: Schema }[];
  body: Schema | undefined;
}

let database: TestDatabase;
let app: FastifyInstance;
let operations: Operation[];
let components: Record<string, Schema>;

function resolve(schema: Schema): Schema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace('#/components/schemas/', '');
  return components[name] ?? {};
}

beforeAll(async () => {
  database = await createTestDatabase();
  ({ app } = await buildTestApp(database, { maxBatchEvents: 50, maxBodyBytes: 256 * 1024 }));
  const doc = (await app.inject('/docs/json')).json();
  components = doc.components?.schemas ?? {};
  operations = [];
  for (const [path, item] of Object.entries<Record<string, Record<string, unknown>>>(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const parameters = (op.parameters ?? []) as {
        in: string;
        name: string;
        required?: boolean;
        schema: Schema;
      }[];
      const content = (op.requestBody as { content?: Record<string, { schema: Schema }> })?.content;
      operations.push({
        method: method.toUpperCase(),
        path,
        query: parameters
          .filter((p) => p.in === 'query')
          .map((p) => ({ name: p.name, required: p.required ?? false, schema: p.schema })),
        body: content?.['application/json']?.schema,
      });
    }
  }
});
afterAll(async () => {
  await app.close();
  await database.close();
});

/** A number spelled exactly so in the JSON text (JSON.stringify cannot write 1e400). */
const RAW = (text: string) => `@@RAW:${text}@@`;
const toJson = (value: unknown) =>
  JSON.stringify(value)?.replace(/"@@RAW:([^@"]*)@@"/g, '$1') ?? 'null';

const oddStrings = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'a\ud800',
  '\udfff',
  '😀',
  'e\u0301',
  '\u202e',
  '\ufeff',
  'x'.repeat(300),
  '__proto__',
  'constructor',
  '<script>alert(1)</script>',
  "'; DROP TABLE events; --",
  '%00',
  '../..',
);
const oddNumbers = fc.constantFrom(
  RAW('1e400'),
  RAW('-1e400'),
  RAW('1e-400'),
  RAW('-0'),
  RAW('9007199254740993'),
  RAW('12345678901234567890123'),
  Number.MAX_SAFE_INTEGER,
  Number.MIN_VALUE,
  -1,
  0,
  0.5,
);
const junk: fc.Arbitrary<unknown> = fc.oneof(
  oddStrings,
  oddNumbers,
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(null, true, false, [], {}),
  fc.jsonValue({ maxDepth: 3 }),
  fc
    .integer({ min: 70, max: 200 })
    .map((depth) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`)),
);

const DATE_LIKE = /\\d\{4\}-\\d\{2\}-\\d\{2\}/;
const day = fc
  .date({
    min: new Date('2024-01-01T00:00:00Z'),
    max: new Date('2026-12-31T00:00:00Z'),
    noInvalidDate: true,
  })
  .map((d) => d.toISOString().slice(0, 10));

/** Values that satisfy `schema` (mostly), with `junkRate` of them broken at each level. */
function valueFor(raw: Schema, junkRate: number, depth = 0): fc.Arbitrary<unknown> {
  const schema = resolve(raw);
  const valid = validFor(schema, junkRate, depth);
  if (junkRate === 0) return valid;
  return fc.oneof(
    { weight: Math.round((1 - junkRate) * 100), arbitrary: valid },
    { weight: Math.round(junkRate * 100), arbitrary: junk },
  );
}

function validFor(schema: Schema, junkRate: number, depth: number): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return fc.oneof(...union.map((s) => valueFor(s, junkRate, depth)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  const examples = schema.examples ?? (schema.example !== undefined ? [schema.example] : []);
  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case 'string': {
      if (schema.format === 'uuid') return fc.uuid();
      if (schema.format === 'date-time') {
        return fc
          .date({ min: new Date('2024-01-01T00:00:00Z'), max: new Date(), noInvalidDate: true })
          .map((d) => d.toISOString());
      }
      if (schema.pattern && DATE_LIKE.test(schema.pattern)) return day;
      const options: fc.Arbitrary<unknown>[] = [
        fc.string({
          minLength: schema.minLength ?? 0,
          maxLength: Math.min(schema.maxLength ?? 30, 30),
        }),
      ];
      if (examples.length) options.push(fc.constantFrom(...examples));
      if (schema.pattern) options.push(fc.stringMatching(new RegExp(schema.pattern)));
      return fc.oneof(...options);
    }
    case 'array': {
      const items = schema.items ?? {};
      return fc.array(valueFor(items, junkRate, depth + 1), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 4, 4),
      });
    }
    case 'object': {
      const properties = schema.properties ?? {};
      const record = fc.record(
        Object.fromEntries(
          Object.entries(properties).map(([k, s]) => [k, valueFor(s, junkRate, depth + 1)]),
        ),
        { requiredKeys: junkRate > 0 ? [] : (schema.required ?? []) },
      );
      const extra =
        schema.additionalProperties === false && junkRate === 0
          ? fc.constant({})
          : fc.dictionary(
              fc.oneof(fc.string({ maxLength: 10 }), oddStrings),
              depth > 3
                ? fc.jsonValue({ maxDepth: 1 })
                : fc.oneof(fc.jsonValue({ maxDepth: 2 }), junk),
              { maxKeys: Object.keys(properties).length ? 2 : 5 },
            );
      return fc.tuple(record, extra).map(([r, e]) => {
        const value: Record<string, unknown> = {};
        // Own properties only (`__proto__` as a plain key, as JSON.parse makes it).
        for (const [k, v] of [...Object.entries(e), ...Object.entries(r)]) {
          Object.defineProperty(value, k, {
            value: v,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return value;
      });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

const headerValues = fc.record(
  {
    'content-type': fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=iso-8859-1',
      'application/JSON',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/vnd.api+json',
    ),
    'x-request-id': fc.oneof(fc.string({ maxLength: 140 }), fc.constant('a'.repeat(129))),
    'content-encoding': fc.constantFrom('br', 'gzip', 'identity', 'x-unknown'),
    accept: fc.constantFrom('*/*', 'text/html', 'application/xml', ''),
    authorization: fc.constantFrom('Bearer x', 'Basic Og==', 'nonsense'),
  },
  { requiredKeys: [] },
);

interface FuzzRequest {
  op: Operation;
  method: string;
  query: [string, string][];
  body: string | undefined;
  headers: Record<string, string>;
}

const requests: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    fc.integer({ min: 0, max: 1_000_000 }),
    fc.constantFrom(0, 0, 0.15, 0.4),
    fc.boolean(),
    headerValues,
    fc.constantFrom(undefined, 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
    fc.oneof(
      { weight: 9, arbitrary: fc.constant(undefined) },
      {
        weight: 1,
        arbitrary: fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.constantFrom('[', '{"a":', '[{}]x', '\u0000'),
        ),
      },
    ),
  )
  .chain(([pick, junkRate, oddHeaders, headers, wrongMethod, rawBody]) => {
    const op = operations[pick % operations.length] as Operation;
    const params = op.query.map((p) =>
      fc.option(
        valueFor(p.schema, junkRate).map(
          (v) => [p.name, typeof v === 'string' ? v : toJson(v)] as [string, string],
        ),
        { nil: undefined, freq: p.required && junkRate === 0 ? 1000 : 3 },
      ),
    );
    const body = op.body ? valueFor(op.body, junkRate).map(toJson) : fc.constant(undefined);
    return fc.tuple(fc.tuple(...params), body).map(([query, json]) => ({
      op,
      method: wrongMethod && junkRate > 0.3 ? wrongMethod : op.method,
      query: query.filter((q): q is [string, string] => q !== undefined),
      body: rawBody ?? json,
      headers: oddHeaders
        ? (headers as Record<string, string>)
        : { 'content-type': 'application/json' },
    }));
  });

async function storedEvents(): Promise<number> {
  const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM events');
  return rows[0].n;
}

describe('fuzzing every endpoint of the OpenAPI document', () => {
  it('covers every documented endpoint', () => {
    const paths = operations.map((o) => `${o.method} ${o.path}`);
    expect(paths).toEqual(
      expect.arrayContaining(['POST /events', 'GET /stats/dau', 'GET /healthz']),
    );
  });

  it(`never answers 5xx, always the error shape on 4xx, stores nothing when refusing (${RUNS} runs)`, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requests, async (request) => {
        const before = await storedEvents();
        const search = new URLSearchParams(request.query).toString();
        const res = await app.inject({
          method: request.method as 'GET',
          url: `${request.op.path}${search ? `?${search}` : ''}`,
          headers: request.headers,
          ...(request.body !== undefined && request.method !== 'GET' && request.method !== 'HEAD'
            ? { payload: request.body }
            : {}),
        });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        const context = `${request.method} ${request.op.path}?${search} ${request.body?.slice(0, 300)} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
        expect(res.statusCode, context).toBeLessThan(500);
        expect(res.headers['x-request-id'], context).toBeTruthy();
        if (res.statusCode >= 400 && request.method !== 'HEAD') {
          const body = res.json();
          expect(typeof body.error, context).toBe('string');
          expect(typeof body.message, context).toBe('string');
          if (body.details !== undefined) expect(Array.isArray(body.details), context).toBe(true);
          expect(await storedEvents(), `a refused request stored events: ${context}`).toBe(before);
        }
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    // The run must have reached the database, not only bounced off the validation.
    expect(
      [...statuses.keys()].some((s) => s < 300),
      JSON.stringify([...statuses]),
    ).toBe(true);
    expect(
      [...statuses.keys()].some((s) => s >= 400),
      JSON.stringify([...statuses]),
    ).toBe(true);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
  }, 600_000);
});

/**
 * Issue 19, finding 1: large bodies of many tiny messages to every SDK route (taken from the
 * OpenAPI document), without a key, with a wrong one and with a valid one (in a header and
 * in the body), against a server process: each is answered (401, 413) in a fraction of what
 * parsing the body would take, and the server's memory returns to where it started.
 */
describe('large bodies of tiny messages to every SDK route', () => {
  let server: ServerProcess;
  let sdkDatabase: TestDatabase;
  let key: string;

  beforeAll(async () => {
    sdkDatabase = await createTestDatabase();
    ({ writer: key } = (await createKeys(sdkDatabase.db, { writer: 'write' })) as {
      writer: string;
    });
    server = await startServerProcess(['--import', 'tsx', 'src/server.ts'], {
      DATABASE_URL: sdkDatabase.url,
      AUTH: 'required',
      LOG_LEVEL: 'info',
    });
  });
  afterAll(async () => {
    server?.proc.kill('SIGTERM');
    await server?.exited;
    await sdkDatabase?.close();
  });

  const rssMb = () => {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.proc.pid}/status`, 'utf8'));
    return Number(match?.[1]) / 1024;
  };
  const MESSAGES = 3_400_000; // ~10 MB
  const list = (first = '{}') => `[${first},${'{},'.repeat(MESSAGES - 2)}{}]`;
  const bodies = new Map<string, Buffer>();
  /** POSTs `body` from `localAddress`; the status and the answer's text. */
  const send = (
    path: string,
    headers: Record<string, string>,
    body: Buffer,
    localAddress: string,
  ): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        `${server.baseUrl}${path}`,
        {
          method: 'POST',
          localAddress,
          headers: {
            'content-type': path.startsWith('/e') ? 'text/plain' : 'application/json',
            ...headers,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk) => {
            text += String(chunk);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  /** The route's own envelope, with the key where its SDK puts it (if any); built once. */
  const bodyFor = (path: string, bodyKey?: string): Buffer => {
    const shape = path.startsWith('/v1/')
      ? 'segment'
      : path === '/2/httpapi' || path === '/batch'
        ? 'amplitude'
        : 'posthog-js';
    const id = `${shape} ${bodyKey}`;
    let body = bodies.get(id);
    if (body === undefined) {
      if (shape === 'segment') {
        body = Buffer.from(`{"batch":${list()}${bodyKey ? `,"writeKey":"${bodyKey}"` : ''}}`);
      } else if (shape === 'amplitude') {
        body = Buffer.from(`{"events":${list()}${bodyKey ? `,"api_key":"${bodyKey}"` : ''}}`);
      } else body = Buffer.from(list(bodyKey ? `{"properties":{"token":"${bodyKey}"}}` : '{}'));
      bodies.set(id, body);
    }
    return body;
  };

  it('answers each in a fraction of a parse, and memory returns to where it started', async () => {
    const sdkPaths = operations
      .filter((o) => o.method === 'POST' && /^\/(v1|batch|capture|e|i|2)\b/.test(o.path))
      .map((o) => o.path);
    expect(sdkPaths.length).toBeGreaterThanOrEqual(20);
    // Warm up, then the starting point.
    for (let i = 0; i < 20; i++) await fetch(`${server.baseUrl}/healthz`);
    const rssStart = rssMb();
    const sample = bodyFor('/v1/batch').toString();
    const parseStarted = performance.now();
    JSON.parse(sample);
    const parseMs = performance.now() - parseStarted;

    const slow: string[] = [];
    let client = 0;
    const variants = [
      ['no key', {}, undefined, 401],
      ['a wrong key', {}, 'ea_wrong', 401],
      ['a valid key in a header', { authorization: `Bearer ${key}` }, undefined, 413],
      ['a valid key in the body', {}, key, 413],
    ] as const;
    for (const [i, path] of sdkPaths.entries()) {
      // Every route without a key and with a valid one; the other two ways in turn.
      for (const [label, headers, bodyKey, expected] of [
        variants[0],
        variants[1 + (i % 3)] ?? variants[1],
      ]) {
        const started = performance.now();
        // From an address of its own (any 127.x is this host): an address that keeps
        // sending bodies without a valid key is refused before its next body is read.
        const res = await send(path, headers, bodyFor(path, bodyKey), `127.0.19.${++client}`);
        const text = res.text;
        const elapsed = performance.now() - started;
        expect(res.status, `${path} with ${label}: ${text.slice(0, 200)}`).toBe(expected);
        if (elapsed > parseMs / 2) slow.push(`${path} with ${label}: ${Math.round(elapsed)} ms`);
      }
    }
    // Before: 6-26 s each, with the server's event loop blocked throughout.
    expect(slow, `a parse of one body takes ${Math.round(parseMs)} ms here`).toEqual([]);
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2000));
    // Before: from 150 MB to 1.77 GB, and it stayed there.
    expect(rssMb(), `RSS at start: ${rssStart.toFixed(0)} MB`).toBeLessThanOrEqual(rssStart * 1.2);
  }, 600_000);
});
