import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { newKey } from '../helpers/ingest-requests.js';

/** One stored event as the SDK tests compare it (occurred_at checked separately). */
export interface StoredEvent {
  event_id: string;
  /** Milliseconds since the epoch. */
  occurred_ms: number;
  user_id: string;
  event_type: string;
  properties: Record<string, unknown>;
}

/** The app listening on a real port with AUTH=required, as the SDKs need it. */
export interface SdkServer {
  baseUrl: string;
  writeKey: string;
  database: TestDatabase;
  app: FastifyInstance;
  /** Every stored event, by event_id. */
  storedEvents(): Promise<StoredEvent[]>;
  /** GET a /stats path with a read key; fails the test on a non-200. */
  stats(pathAndQuery: string): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * One SDK server for the calling test file: started before its tests and closed after
 * them. Call the returned function inside a test to get it.
 */
export function useSdkServer(): () => SdkServer {
  let server: SdkServer | undefined;
  beforeAll(async () => {
    server = await startSdkServer();
  });
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (!server) throw new Error('the SDK server is not started (use it inside a test)');
    return server;
  };
}

/** The order every SDK test sends as an event's properties. */
export const ORDER = {
  order_id: 'o-1',
  revenue: 12.5,
  items: [{ sku: 'a', qty: 2 }],
  coupon: null,
};

export async function startSdkServer(): Promise<SdkServer> {
  const database = await createTestDatabase();
  const { app } = await buildTestApp(database, { auth: 'required', logLevel: 'warn' });
  const writeKey = await newKey(database.db, 'sdk-e2e-write', 'write');
  const readKey = await newKey(database.db, 'sdk-e2e-read', 'read');
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    baseUrl,
    writeKey,
    database,
    app,
    async storedEvents() {
      const { rows } = await database.pool.query<StoredEvent>(
        `SELECT event_id::text,
                (extract(epoch FROM occurred_at) * 1000)::float8 AS occurred_ms,
                user_id, event_type, properties
           FROM events ORDER BY event_id`,
      );
      return rows;
    },
    async stats(pathAndQuery) {
      const response = await fetch(`${baseUrl}${pathAndQuery}`, {
        headers: { authorization: `Bearer ${readKey}` },
      });
      const body: unknown = await response.json();
      if (response.status !== 200) {
        throw new Error(`GET ${pathAndQuery}: ${response.status} ${JSON.stringify(body)}`);
      }
      return body;
    },
    async close() {
      await app.close();
      await database.close();
    },
  };
}

export type ExpectedEvent = Omit<StoredEvent, 'occurred_ms'> & {
  /** The timestamp the test gave the SDK. */
  timestamp: string;
};

const byEventId = (a: { event_id: string }, b: { event_id: string }) =>
  a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0;

/**
 * Checks that exactly these events are stored, field for field; occurred_at is the
 * client's timestamp moved later by the request's transit time (the clock-skew correction
 * adds received_at - sent_at, which on one machine is between 0 and the whole send, give or
 * take the 1 ms both ends' millisecond clocks may round away).
 */
export function expectStored(
  stored: StoredEvent[],
  expected: ExpectedEvent[],
  transitMs: number,
): void {
  const sorted = [...expected].sort(byEventId);
  expect(stored.map(({ occurred_ms: _, ...fields }) => fields)).toEqual(
    sorted.map(({ timestamp: _, ...fields }) => fields),
  );
  sorted.forEach((event, i) => {
    const lagMs = (stored[i]?.occurred_ms ?? Number.NaN) - Date.parse(event.timestamp);
    expect(lagMs, `${event.event_type}: occurred_at - timestamp`).toBeGreaterThanOrEqual(-1);
    expect(lagMs, `${event.event_type}: occurred_at - timestamp`).toBeLessThanOrEqual(
      transitMs + 1,
    );
  });
}

/** A stopwatch around a send: how long the SDK took, the bound of any event's transit. */
export async function timed(send: () => Promise<void>): Promise<number> {
  const start = Date.now();
  await send();
  return Date.now() - start;
}

/** The version of an installed SDK package (what it reports as its library version). */
export function installedVersion(name: string): string {
  const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

/** An HTTP proxy in front of the service that loses the first responses, as a network might. */
export interface LossyProxy {
  url: string;
  /** Requests forwarded to the service so far (each reached it and was answered). */
  readonly forwarded: number;
  close(): Promise<void>;
}

/**
 * Forwards every request to `target`; for the first `lose` of them it waits for the
 * service's whole answer and then loses it, so the SDK sees a failure after the service has
 * stored the batch, and retries: `cut` closes the connection before any answer (what
 * Segment, RudderStack and PostHog retry), `truncate` sends the head and half the body
 * (what Amplitude retries; it drops a batch whose connection fails before an answer).
 */
export async function startLossyProxy(
  target: string,
  lose: number,
  how: 'cut' | 'truncate' = 'cut',
): Promise<LossyProxy> {
  const upstream = new URL(target);
  let forwarded = 0;
  let toLose = lose;
  const proxy = http.createServer((request, response) => {
    const outgoing = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: request.method,
        path: request.url,
        headers: { ...request.headers, host: upstream.host },
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          forwarded++;
          const body = Buffer.concat(chunks);
          if (toLose > 0) {
            toLose--;
            if (how === 'truncate') {
              response.writeHead(answer.statusCode ?? 502, answer.headers);
              response.write(body.subarray(0, body.length >> 1));
              response.flushHeaders();
              setTimeout(() => request.socket.destroy(), 20);
            } else request.socket.destroy();
            return;
          }
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          response.end(body);
        });
      },
    );
    outgoing.on('error', () => request.socket.destroy());
    request.pipe(outgoing);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get forwarded() {
      return forwarded;
    },
    async close() {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
