import { PostHog } from 'posthog-node';
import { describe, expect, it, vi } from 'vitest';
import {
  type ExpectedEvent,
  expectStored,
  installedVersion,
  ORDER,
  startLossyProxy,
  timed,
  useSdkServer,
} from './harness.js';

// The real posthog-node against the running service: POST /batch/, the key as api_key in
// the gzip JSON body.

const server = useSdkServer();

// What posthog-node adds to every event's properties.
const NODE = {
  $lib: 'posthog-node',
  $lib_version: installedVersion('posthog-node'),
  $is_server: true,
  $geoip_disable: true,
};

const EXPECTED: ExpectedEvent[] = [
  {
    event_id: '0190a5e8-0000-7000-8000-000000000001',
    timestamp: '2024-03-05T12:00:00.789Z',
    user_id: 'ph-user-1',
    event_type: 'order completed',
    properties: { ...ORDER, ...NODE },
  },
  {
    event_id: '0190a5e8-0000-7000-8000-000000000002',
    timestamp: '2024-03-05T12:00:01.000Z',
    user_id: 'ph-anon-2',
    event_type: '$pageview',
    properties: { $current_url: 'https://example.com/pricing', $pathname: '/pricing', ...NODE },
  },
  {
    event_id: '0190a5e8-0000-7000-8000-000000000003',
    timestamp: '2024-03-05T12:00:02.000Z',
    user_id: 'ph-user-1',
    event_type: '$identify',
    properties: { $set: { plan: 'pro' }, ...NODE },
  },
];

/**
 * Sends an event, a page view and an identify through a fresh client and shuts it down
 * (which flushes). PostHog has no page(): a page view is the event $pageview. identify()
 * takes no uuid (each call is a new event), so the identify goes through capture() with
 * an explicit uuid, which sends the same wire message.
 */
async function send(apiKey: string): Promise<{ emitted: unknown[]; ms: number }> {
  const client = new PostHog(apiKey, { host: server().baseUrl, fetchRetryDelay: 100 });
  const emitted: unknown[] = [];
  client.on('error', (error) => emitted.push(error));
  const ms = await timed(async () => {
    client.capture({
      distinctId: 'ph-user-1',
      event: 'order completed',
      properties: ORDER,
      uuid: '0190a5e8-0000-7000-8000-000000000001',
      timestamp: new Date('2024-03-05T12:00:00.789Z'),
    });
    client.capture({
      distinctId: 'ph-anon-2',
      event: '$pageview',
      properties: { $current_url: 'https://example.com/pricing', $pathname: '/pricing' },
      uuid: '0190a5e8-0000-7000-8000-000000000002',
      timestamp: new Date('2024-03-05T12:00:01.000Z'),
    });
    client.capture({
      distinctId: 'ph-user-1',
      event: '$identify',
      properties: { $set: { plan: 'pro' } },
      uuid: '0190a5e8-0000-7000-8000-000000000003',
      timestamp: new Date('2024-03-05T12:00:02.000Z'),
    });
    await client.shutdown(15_000);
  });
  return { emitted, ms };
}

describe('posthog-node', () => {
  it('delivers events, a page view and an identify: stored exactly, and in /stats', async () => {
    const { emitted, ms } = await send(server().writeKey);
    expect(emitted).toEqual([]);
    expectStored(await server().storedEvents(), EXPECTED, ms);
    expect(
      await server().stats('/stats/top-events?from=2024-03-05&to=2024-03-05&limit=100'),
    ).toEqual([
      { event_type: '$identify', count: 1, unique_users: 1 },
      { event_type: '$pageview', count: 1, unique_users: 1 },
      { event_type: 'order completed', count: 1, unique_users: 1 },
    ]);
    expect(await server().stats('/stats/dau?from=2024-03-05&to=2024-03-05')).toEqual([
      { date: '2024-03-05', unique_users: 2 },
    ]);
  });

  it('stores nothing new when the same events come again (a retry)', async () => {
    const before = await server().storedEvents();
    const { emitted } = await send(server().writeKey);
    expect(emitted).toEqual([]);
    expect(await server().storedEvents()).toEqual(before);
  });

  it('stores an identify() (the SDK gives it a fresh uuid) as $identify with $set', async () => {
    const client = new PostHog(server().writeKey, { host: server().baseUrl });
    client.identify({ distinctId: 'ph-user-3', properties: { email: 'u3@example.com' } });
    await client.shutdown(15_000);
    const rows = (await server().storedEvents()).filter((e) => e.user_id === 'ph-user-3');
    expect(rows.map(({ event_type, properties }) => ({ event_type, properties }))).toEqual([
      {
        event_type: '$identify',
        properties: { $set: { email: 'u3@example.com' }, $set_once: {}, ...NODE },
      },
    ]);
  });

  it('is refused with a wrong key: the SDK reports the error, nothing is stored', async () => {
    const before = await server().storedEvents();
    // posthog-node also prints the failed flush on the console: keep the test output clean.
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
    let emitted: unknown[];
    try {
      ({ emitted } = await send('not-a-key'));
    } finally {
      printed.mockRestore();
    }
    expect(emitted.length).toBeGreaterThan(0);
    expect(String(emitted[0])).toMatch(/status=401/);
    expect(await server().storedEvents()).toEqual(before);
  });

  it('a lost response: the SDK sends the batch again by itself, and it is stored once', async () => {
    const proxy = await startLossyProxy(server().baseUrl, 1);
    try {
      const before = (await server().storedEvents()).length;
      const client = new PostHog(server().writeKey, { host: proxy.url, fetchRetryDelay: 100 });
      const emitted: unknown[] = [];
      client.on('error', (error) => emitted.push(error));
      client.capture({
        distinctId: 'ph-user-9',
        event: 'signed up',
        uuid: '0190a5e8-0000-7000-8000-000000000009',
        timestamp: new Date('2024-03-07T12:00:00Z'),
      });
      await client.shutdown(15_000);
      expect(emitted).toEqual([]);
      expect(proxy.forwarded).toBe(2);
      const rows = await server().storedEvents();
      expect(rows).toHaveLength(before + 1);
      expect(rows.filter((e) => e.user_id === 'ph-user-9').map((e) => e.event_id)).toEqual([
        '0190a5e8-0000-7000-8000-000000000009',
      ]);
    } finally {
      await proxy.close();
    }
  });
});
