import net from 'node:net';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

const REQUEST_TIMEOUT_MS = 1500;
const HEADERS_TIMEOUT_MS = 1000;
const MAX_CONNECTIONS = 6;

let database: TestDatabase;
let app: FastifyInstance;
let port: number;
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  app = await buildApp({
    config: {
      ...loadConfig({}),
      logLevel: 'info',
      maxBatchEvents: 100,
      maxBodyBytes: 1 << 20,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: 5000,
      connectionTimeoutMs: 10_000,
      maxConnections: MAX_CONNECTIONS,
    },
    db: database.db,
    pool: database.pool,
    logStream,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await app.close();
  await database.close();
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** From the first byte sent to the server closing the connection. */
  elapsedMs: number;
}

/**
 * Writes `chunks` to a raw socket (`pauseMs` between them) and reads until the server
 * closes the connection: what a slow or broken client sees.
 */
function rawRequest(chunks: string[], pauseMs = 0, giveUpMs = 15_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const started = performance.now();
    let received = '';
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${giveUpMs} ms; received: ${received.slice(0, 200)}`));
    }, giveUpMs);
    socket.on('data', (d) => {
      received += d.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(giveUp);
      clearTimeout(timer);
      const [head = '', body = ''] = received.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers = Object.fromEntries(
        headerLines.map((l) => {
          const i = l.indexOf(':');
          return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
        }),
      );
      resolve({
        status: Number(statusLine.split(' ')[1] ?? 0),
        headers,
        body,
        elapsedMs: performance.now() - started,
      });
    });
    let next = 0;
    const send = () => {
      if (next >= chunks.length || socket.destroyed) return;
      socket.write(chunks[next++] as string);
      timer = setTimeout(send, pauseMs);
    };
    socket.on('connect', send);
  });
}

function expectErrorShape(answer: RawAnswer, status: number, error: string) {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toContain('application/json');
  expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  expect(JSON.parse(answer.body)).toEqual({ error, message: expect.any(String) });
  const access = logs.find(
    (l) => l.logger === 'access' && l.request_id === answer.headers['x-request-id'],
  );
  expect(access).toMatchObject({ status, msg: expect.stringContaining(`status=${status}`) });
}

async function metricsText(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

describe('request timeouts on a real port (item 8)', () => {
  it('a client that sends headers and then no body gets a 408 and its connection closed', async () => {
    const answer = await rawRequest([
      'POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n',
    ]);
    expectErrorShape(answer, 408, 'request_timeout');
    expect(answer.elapsedMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    expect(answer.elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2500);
  });

  it('a client that drips its body one byte at a time is cut at the request timeout', async () => {
    const drip = Array.from({ length: 100 }, () => ' ');
    const answer = await rawRequest(
      [
        'POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n',
        ...drip,
      ],
      200,
    );
    expectErrorShape(answer, 408, 'request_timeout');
    expect(answer.elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2500);
  });

  it('a client that never finishes its headers is cut at the headers timeout', async () => {
    const answer = await rawRequest(['GET /healthz HTTP/1.1\r\nHost: x\r\n', 'X-A: 1\r\n'], 300);
    expectErrorShape(answer, 408, 'request_timeout');
    expect(answer.elapsedMs).toBeLessThan(HEADERS_TIMEOUT_MS + 2500);
    expect(await metricsText()).toMatch(
      /http_requests_total\{method="\w+",path="unmatched",status="408"\} \d+/,
    );
  });
});

describe('errors of the HTTP parser get the usual shape, a request id, a log line and a metric (item 11)', () => {
  it.each([
    ['an unknown method', 'FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'bad_request'],
    [
      'Content-Length with Transfer-Encoding',
      'POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
      'bad_request',
    ],
    [
      'two Content-Length headers',
      'POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n[]',
      400,
      'bad_request',
    ],
    [
      'a 100 KB URL',
      `GET /stats/dau?x=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      431,
      'headers_too_large',
    ],
    ['garbage', 'hello there\r\n\r\n', 400, 'bad_request'],
  ])('%s', async (_what, request, status, error) => {
    const answer = await rawRequest([request]);
    expectErrorShape(answer, status, error);
    const text = await metricsText();
    expect(text).toMatch(new RegExp(`path="unmatched",status="${status}"\\} \\d+`));
  });

  it('the server is still healthy afterwards', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(200);
  });
});

describe('connection limit (item 8)', () => {
  it(`holds at most ${MAX_CONNECTIONS} connections; more are closed at once, and served again when some close`, async () => {
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < MAX_CONNECTIONS; i++) {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => {});
        await new Promise((r) => socket.once('connect', r));
        held.push(socket);
      }
      await new Promise((r) => setTimeout(r, 100));
      const refused = await rawRequest(['GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'], 0, 3000);
      expect(refused.status).toBe(0); // closed without an answer
      expect(logs.some((l) => String(l.msg).includes('MAX_CONNECTIONS'))).toBe(true);
    } finally {
      for (const socket of held) socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    const served = await rawRequest([
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ]);
    expect(served.status).toBe(200);
  });
});
