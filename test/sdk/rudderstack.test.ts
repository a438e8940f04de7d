import Analytics from '@rudderstack/rudder-sdk-node';
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

// The real @rudderstack/rudder-sdk-node against the running service: POST /v1/batch, the
// key in HTTP Basic only, gzip bodies labelled application/x-www-form-urlencoded.

const server = useSdkServer();

const LIB = {
  $lib: 'analytics-node', // what this SDK calls itself in context.library
  $lib_version: installedVersion('@rudderstack/rudder-sdk-node'),
};

const EXPECTED: ExpectedEvent[] = [
  {
    // UUIDv5 of the messageId in the segment family (computed with Python's uuid.uuid5).
    event_id: '1e3066cb-523c-5d5b-a050-9946a1bcaaac',
    timestamp: '2024-03-05T11:00:00.456Z',
    user_id: 'rs-user-1',
    event_type: 'Order Completed',
    properties: { ...ORDER, ...LIB },
  },
  {
    event_id: 'bac98dc5-620f-5a52-a72a-07671fdcebf3',
    timestamp: '2024-03-05T11:00:01.000Z',
    user_id: 'rs-user-1',
    event_type: '$identify',
    properties: { plan: 'pro', logins: 3, ...LIB },
  },
  {
    event_id: 'a3bb189e-8bf9-4888-9912-ace4e6543002', // a UUID: kept
    timestamp: '2024-03-05T11:00:02.000Z',
    user_id: 'rs-anon-2',
    event_type: '$pageview',
    properties: { path: '/pricing', name: 'Pricing', category: 'Docs', ...LIB },
  },
];

/**
 * Sends track, identify and page through a fresh client (gzip on, its default) and flushes.
 * Returns the errors given to errorHandler, each message's failure (its callback's error),
 * and how long it took.
 */
async function send(
  writeKey: string,
): Promise<{ handled: unknown[]; failures: unknown[]; ms: number }> {
  const handled: unknown[] = [];
  const client = new Analytics(writeKey, {
    dataPlaneUrl: server().baseUrl,
    logLevel: 'none', // its errors are asserted below, not printed
    errorHandler: (error) => handled.push(error),
  });
  const outcomes: Promise<unknown>[] = [];
  const callback = () => {
    let settle: (error: unknown) => void = () => {};
    outcomes.push(new Promise((resolve) => (settle = resolve)));
    return (error?: unknown) => settle(error);
  };
  // messageId is sent as given, though the SDK's types do not list it.
  const track = {
    userId: 'rs-user-1',
    event: 'Order Completed',
    properties: ORDER,
    messageId: 'rs-e2e-track-1',
    timestamp: new Date('2024-03-05T11:00:00.456Z'),
  };
  const identify = {
    userId: 'rs-user-1',
    traits: { plan: 'pro', logins: 3 },
    messageId: 'rs-e2e-identify-1',
    timestamp: new Date('2024-03-05T11:00:01.000Z'),
  };
  const page = {
    anonymousId: 'rs-anon-2',
    name: 'Pricing',
    category: 'Docs',
    properties: { path: '/pricing' },
    messageId: 'a3bb189e-8bf9-4888-9912-ace4e6543002',
    timestamp: new Date('2024-03-05T11:00:02.000Z'),
  };
  const ms = await timed(async () => {
    client.track(track, callback()); // the first message is sent at once, alone
    client.identify(identify, callback());
    client.page(page, callback());
    await client.flush();
    await Promise.all(outcomes);
  });
  const failures = (await Promise.all(outcomes)).filter((error) => error !== undefined);
  return { handled, failures, ms };
}

describe('@rudderstack/rudder-sdk-node', () => {
  it('delivers track/identify/page (gzip): stored exactly as mapped, and in /stats', async () => {
    const { handled, failures, ms } = await send(server().writeKey);
    expect([...handled, ...failures]).toEqual([]);
    expectStored(await server().storedEvents(), EXPECTED, ms);
    expect(
      await server().stats('/stats/top-events?from=2024-03-05&to=2024-03-05&limit=100'),
    ).toEqual([
      { event_type: '$identify', count: 1, unique_users: 1 },
      { event_type: '$pageview', count: 1, unique_users: 1 },
      { event_type: 'Order Completed', count: 1, unique_users: 1 },
    ]);
    expect(await server().stats('/stats/dau?from=2024-03-05&to=2024-03-05')).toEqual([
      { date: '2024-03-05', unique_users: 2 },
    ]);
  });

  it('stores nothing new when the same messages come again (a retry)', async () => {
    const before = await server().storedEvents();
    const { handled, failures } = await send(server().writeKey);
    expect([...handled, ...failures]).toEqual([]);
    expect(await server().storedEvents()).toEqual(before);
  });

  it('is refused with a wrong key: the SDK reports a 401 and does not retry it', async () => {
    const before = await server().storedEvents();
    const { failures } = await send('not-a-key');
    const statuses = failures.map(
      (error) => (error as { response?: { status?: number } }).response?.status,
    );
    expect(statuses).toEqual([401, 401, 401]);
    expect(await server().storedEvents()).toEqual(before);
  });

  it('a lost response: the SDK sends the batch again by itself, and it is stored once', async () => {
    const proxy = await startLossyProxy(server().baseUrl, 1);
    try {
      const before = (await server().storedEvents()).length;
      const client = new Analytics(server().writeKey, {
        dataPlaneUrl: proxy.url,
        logLevel: 'none',
      });
      const delivered = new Promise((resolve) =>
        client.track(
          {
            userId: 'rs-user-9',
            event: 'Signed Up',
            messageId: 'rs-e2e-lost-1',
            timestamp: new Date('2024-03-07T11:00:00Z'),
          } as Parameters<typeof client.track>[0],
          // The callback gets the delivery error, though the SDK's types declare none.
          (...args: unknown[]) => resolve(args[0]),
        ),
      );
      await client.flush();
      expect(await delivered).toBeUndefined();
      expect(proxy.forwarded).toBe(2);
      const rows = await server().storedEvents();
      expect(rows).toHaveLength(before + 1);
      expect(rows.filter((e) => e.user_id === 'rs-user-9').map((e) => e.event_id)).toEqual([
        '00df20d9-81b4-52ec-8367-9a252e922779',
      ]);
    } finally {
      await proxy.close();
    }
  });
});
