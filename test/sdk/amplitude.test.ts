import { createInstance, Identify } from '@amplitude/analytics-node';
import { describe, expect, it } from 'vitest';
import {
  type ExpectedEvent,
  expectStored,
  installedVersion,
  ORDER,
  startLossyProxy,
  timed,
  useSdkServer,
} from './harness.js';

// The real @amplitude/analytics-node against the running service: POST /2/httpapi, the key
// as api_key in the JSON body; the SDK reads the outcome from the JSON body's `code`.

const server = useSdkServer();

const LIB = {
  $lib: 'amplitude-node-ts',
  $lib_version: installedVersion('@amplitude/analytics-node'),
};

const EXPECTED: ExpectedEvent[] = [
  {
    // UUIDv5 of the insert_id in the amplitude family (computed with Python's uuid.uuid5).
    event_id: '6b7f1523-640b-5ac2-a30c-b7113785398e',
    timestamp: '2024-03-05T13:00:00.321Z',
    user_id: 'amp-user-1',
    event_type: 'Order Completed',
    properties: { ...ORDER, ...LIB },
  },
  {
    event_id: 'eebb7d7f-4189-514a-a9ea-e34ba1e67fb2',
    timestamp: '2024-03-05T13:00:01.000Z',
    user_id: 'amp-user-1',
    event_type: '$identify',
    properties: { user_properties: { $set: { plan: 'pro' } }, ...LIB },
  },
  {
    event_id: '9c5b94b1-35ad-49bb-b118-8e8fc24abf80', // a UUID: kept
    timestamp: '2024-03-05T13:00:02.000Z',
    user_id: 'amp-device-2', // no user_id: the device_id
    event_type: 'Page Viewed',
    properties: { path: '/pricing', ...LIB },
  },
];

/**
 * Sends an event, an identify and a page view (Amplitude has no page(): a plain event)
 * through a fresh client and flushes. Returns each event's result code (200 = delivered).
 */
async function send(apiKey: string, path = '/2/httpapi'): Promise<{ codes: number[]; ms: number }> {
  const client = createInstance();
  await client.init(apiKey, { serverUrl: `${server().baseUrl}${path}`, logLevel: 0 }).promise;
  let results: { code: number }[] = [];
  const ms = await timed(async () => {
    const pending = [
      client.track('Order Completed', ORDER, {
        user_id: 'amp-user-1',
        device_id: 'amp-device-1',
        insert_id: 'amp-e2e-track-1',
        time: Date.parse('2024-03-05T13:00:00.321Z'),
      }).promise,
      client.identify(new Identify().set('plan', 'pro'), {
        user_id: 'amp-user-1',
        insert_id: 'amp-e2e-identify-1',
        time: Date.parse('2024-03-05T13:00:01.000Z'),
      }).promise,
      client.track(
        'Page Viewed',
        { path: '/pricing' },
        {
          device_id: 'amp-device-2',
          insert_id: '9c5b94b1-35ad-49bb-b118-8e8fc24abf80',
          time: Date.parse('2024-03-05T13:00:02.000Z'),
        },
      ).promise,
    ];
    await client.flush().promise;
    results = await Promise.all(pending);
  });
  return { codes: results.map((r) => r.code), ms };
}

describe('@amplitude/analytics-node', () => {
  it('delivers events, an identify and a page view: stored exactly, and in /stats', async () => {
    const { codes, ms } = await send(server().writeKey);
    expect(codes).toEqual([200, 200, 200]);
    expectStored(await server().storedEvents(), EXPECTED, ms);
    expect(
      await server().stats('/stats/top-events?from=2024-03-05&to=2024-03-05&limit=100'),
    ).toEqual([
      { event_type: '$identify', count: 1, unique_users: 1 },
      { event_type: 'Order Completed', count: 1, unique_users: 1 },
      { event_type: 'Page Viewed', count: 1, unique_users: 1 },
    ]);
    expect(await server().stats('/stats/dau?from=2024-03-05&to=2024-03-05')).toEqual([
      { date: '2024-03-05', unique_users: 2 },
    ]);
  });

  it('stores nothing new when the same events come again (a retry), on /batch too', async () => {
    const before = await server().storedEvents();
    expect((await send(server().writeKey)).codes).toEqual([200, 200, 200]);
    expect((await send(server().writeKey, '/batch')).codes).toEqual([200, 200, 200]);
    expect(await server().storedEvents()).toEqual(before);
  });

  it('is refused with a wrong key: the SDK reports the 401, nothing is stored', async () => {
    const before = await server().storedEvents();
    const { codes } = await send('not-a-key');
    expect(codes).toEqual([401, 401, 401]);
    expect(await server().storedEvents()).toEqual(before);
  });

  it('a wrong key is final: even the retrying timer flush drops the events at once', async () => {
    // Only the timer flush retries; it gives up at once only on a 4xx whose body names a
    // missing_field (else the result would be "exceeded retry count" after flushMaxRetries).
    const client = createInstance();
    await client.init('not-a-key', {
      serverUrl: `${server().baseUrl}/2/httpapi`,
      logLevel: 0,
      flushIntervalMillis: 20,
      flushMaxRetries: 3,
    }).promise;
    const result = await client.track('Signed Up', {}, { user_id: 'amp-user-9' }).promise;
    expect({ code: result.code, message: result.message }).toEqual({
      code: 401,
      message: 'unauthorized',
    });
  });

  it('a lost response: the timer flush sends the batch again, and it is stored once', async () => {
    const proxy = await startLossyProxy(server().baseUrl, 1, 'truncate');
    try {
      const before = (await server().storedEvents()).length;
      const client = createInstance();
      // Only the timer flush retries (an explicit flush() reports the failure instead).
      await client.init(server().writeKey, {
        serverUrl: `${proxy.url}/2/httpapi`,
        logLevel: 0,
        flushIntervalMillis: 20,
      }).promise;
      const result = await client.track(
        'Signed Up',
        {},
        {
          user_id: 'amp-user-8',
          insert_id: 'amp-e2e-lost-1',
          time: Date.parse('2024-03-07T13:00:00Z'),
        },
      ).promise;
      expect(result.code).toBe(200);
      expect(proxy.forwarded).toBe(2);
      const rows = await server().storedEvents();
      expect(rows).toHaveLength(before + 1);
      expect(rows.filter((e) => e.user_id === 'amp-user-8').map((e) => e.event_id)).toEqual([
        'b598e6d8-8a0d-5e3e-a430-432ca23ececc',
      ]);
    } finally {
      await proxy.close();
    }
  });
});
