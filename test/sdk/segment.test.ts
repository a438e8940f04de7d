import { Analytics } from '@segment/analytics-node';
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

// The real @segment/analytics-node against the running service: POST /v1/batch, the key
// in HTTP Basic and as writeKey in the body, plain JSON.

const server = useSdkServer();

const LIB = {
  $lib: '@segment/analytics-node',
  $lib_version: installedVersion('@segment/analytics-node'),
};

const EXPECTED: ExpectedEvent[] = [
  {
    // UUIDv5 of the messageId in the segment family (computed with Python's uuid.uuid5).
    event_id: '86e278f7-db76-5985-9372-63aec8c072ff',
    timestamp: '2024-03-05T10:00:00.123Z',
    user_id: 'seg-user-1',
    event_type: 'Order Completed',
    properties: { ...ORDER, ...LIB },
  },
  {
    event_id: 'a01405cb-4888-5487-b48d-7e0af11f576f',
    timestamp: '2024-03-05T10:00:01.000Z',
    user_id: 'seg-user-1',
    event_type: '$identify',
    properties: { plan: 'pro', logins: 3, ...LIB },
  },
  {
    event_id: 'c0ffee00-7dec-41d0-a765-00a0c91e6bf6', // a UUID: kept, lower-cased
    timestamp: '2024-03-05T10:00:02.000Z',
    user_id: 'seg-anon-2',
    event_type: '$pageview',
    properties: { path: '/pricing', category: 'Docs', name: 'Pricing', ...LIB },
  },
];

/**
 * Sends track, identify and page through a fresh client and flushes. Returns the errors the
 * client emitted, each message's delivery failure (its callback's error), and how long it took.
 */
async function send(
  writeKey: string,
): Promise<{ emitted: unknown[]; failures: unknown[]; ms: number }> {
  const analytics = new Analytics({ writeKey, host: server().baseUrl });
  const emitted: unknown[] = [];
  analytics.on('error', (error) => emitted.push(error));
  const outcomes: Promise<unknown>[] = [];
  const callback = () => {
    let settle: (error: unknown) => void = () => {};
    outcomes.push(new Promise((resolve) => (settle = resolve)));
    return (error: unknown) => settle(error);
  };
  const ms = await timed(async () => {
    analytics.track(
      {
        userId: 'seg-user-1',
        anonymousId: 'seg-anon-1',
        event: 'Order Completed',
        properties: ORDER,
        messageId: 'seg-e2e-track-1',
        timestamp: new Date('2024-03-05T10:00:00.123Z'),
        context: { ip: '203.0.113.7' },
      },
      callback(),
    );
    analytics.identify(
      {
        userId: 'seg-user-1',
        traits: { plan: 'pro', logins: 3 },
        messageId: 'seg-e2e-identify-1',
        timestamp: new Date('2024-03-05T10:00:01.000Z'),
      },
      callback(),
    );
    analytics.page(
      {
        anonymousId: 'seg-anon-2',
        name: 'Pricing',
        category: 'Docs',
        properties: { path: '/pricing' },
        messageId: 'C0FFEE00-7DEC-41D0-A765-00A0C91E6BF6',
        timestamp: new Date('2024-03-05T10:00:02.000Z'),
      },
      callback(),
    );
    await analytics.closeAndFlush({ timeout: 15_000 });
  });
  const failures = (await Promise.all(outcomes)).filter((error) => error !== undefined);
  return { emitted, failures, ms };
}

describe('@segment/analytics-node', () => {
  it('delivers track/identify/page: stored exactly as mapped, and in /stats', async () => {
    const { emitted, failures, ms } = await send(server().writeKey);
    expect([...emitted, ...failures]).toEqual([]);
    expectStored(await server().storedEvents(), EXPECTED, ms);
    expect(
      await server().stats('/stats/top-events?from=2024-03-05&to=2024-03-05&limit=100'),
    ).toEqual([
      { event_type: '$identify', count: 1, unique_users: 1 },
      { event_type: '$pageview', count: 1, unique_users: 1 },
      { event_type: 'Order Completed', count: 1, unique_users: 1 },
    ]);
    expect(await server().stats('/stats/dau?from=2024-03-05&to=2024-03-06')).toEqual([
      { date: '2024-03-05', unique_users: 2 },
      { date: '2024-03-06', unique_users: 0 },
    ]);
  });

  it('stores nothing new when the same messages come again (a retry)', async () => {
    const before = await server().storedEvents();
    const { emitted, failures } = await send(server().writeKey);
    expect([...emitted, ...failures]).toEqual([]);
    expect(await server().storedEvents()).toEqual(before);
    expect(await server().stats('/stats/dau?from=2024-03-05&to=2024-03-05')).toEqual([
      { date: '2024-03-05', unique_users: 2 },
    ]);
  });

  it('is refused with a wrong key: the SDK reports the failure, nothing is stored', async () => {
    const before = await server().storedEvents();
    const { failures } = await send('not-a-key');
    // Segment drops a batch on a 4xx other than 408/410/429/460: one attempt, no retry loop.
    expect(failures.map((error) => String((error as Error).message))).toEqual([
      '[401] Unauthorized',
      '[401] Unauthorized',
      '[401] Unauthorized',
    ]);
    expect(await server().storedEvents()).toEqual(before);
  });

  it('a lost response: the SDK sends the batch again by itself, and it is stored once', async () => {
    const proxy = await startLossyProxy(server().baseUrl, 1);
    try {
      const before = (await server().storedEvents()).length;
      const analytics = new Analytics({ writeKey: server().writeKey, host: proxy.url });
      const delivered = new Promise((resolve) =>
        analytics.track(
          {
            userId: 'seg-user-9',
            event: 'Signed Up',
            messageId: 'seg-e2e-lost-1',
            timestamp: new Date('2024-03-07T10:00:00Z'),
          },
          resolve,
        ),
      );
      await analytics.closeAndFlush({ timeout: 15_000 });
      expect(await delivered).toBeUndefined();
      expect(proxy.forwarded).toBe(2); // the service saw the batch twice
      const rows = await server().storedEvents();
      expect(rows).toHaveLength(before + 1);
      expect(rows.filter((e) => e.user_id === 'seg-user-9').map((e) => e.event_id)).toEqual([
        '526c3693-8073-5114-9885-fd08f9b056e4',
      ]);
    } finally {
      await proxy.close();
    }
  });
});
