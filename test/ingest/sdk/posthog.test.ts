import { describe, expect, it } from 'vitest';
import { LosslessNumber } from '../../../src/ingest/json-body.js';
import { mapPosthog } from '../../../src/ingest/sdk/posthog.js';
import { EnvelopeError } from '../../../src/ingest/sdk/types.js';
import { validateEvent } from '../../../src/ingest/validate-event.js';
import { bodyKey, loadCapture, mappedEvents, sentAtMs } from './fixtures.js';

const NODE_PROPS = {
  $lib: 'posthog-node',
  $lib_version: '5.70.0',
  $is_server: true,
  $geoip_disable: true,
};
const at = (iso: string) => ({ receivedAtMs: Date.parse(iso) });

describe('mapPosthog on the captured posthog-node /batch/ request', () => {
  const [request] = loadCapture('posthog').requests;
  const body = request?.body;
  const ctx = { receivedAtMs: sentAtMs(body, 'sent_at') };

  it('maps every event exactly, keeping all properties as sent', () => {
    const batch = mapPosthog(body, ctx);
    expect(bodyKey(body, 'posthog')).toBe('test_write_key');
    expect(mappedEvents(batch)).toEqual([
      {
        event_id: '01890f2a-7b3c-7def-8abc-0123456789ab',
        occurred_at: '2024-01-02T03:04:05.678000Z',
        user_id: 'user-123',
        event_type: 'order completed',
        properties: {
          order_id: 'o-1',
          revenue: 12.5,
          currency: 'USD',
          items: [{ sku: 'a', qty: 2 }],
          coupon: null,
          ...NODE_PROPS,
        },
      },
      {
        event_id: '01890f2a-7b3c-7def-8abc-0123456789ac',
        occurred_at: '2024-01-02T03:05:06.123456Z',
        user_id: 'user-123',
        event_type: '$pageview',
        properties: {
          $current_url: 'https://example.com/docs',
          $pathname: '/docs',
          $referrer: 'https://google.com/',
          ...NODE_PROPS,
        },
      },
      {
        event_id: '01a220c9-2789-740d-84e0-4a05792c2bed',
        occurred_at: '2024-01-02T03:04:08.000000Z',
        user_id: 'user-123',
        event_type: '$screen',
        properties: { $screen_name: 'Home', ...NODE_PROPS },
      },
      {
        event_id: '01a220c9-278a-7176-8102-2ad865fe8dbd',
        occurred_at: '2026-11-28T06:13:03.497000Z',
        user_id: 'user-123',
        event_type: '$identify',
        properties: {
          $set: { email: 'u@example.com', plan: 'pro' },
          $set_once: { first_seen: '2024-01-01' },
          ...NODE_PROPS,
        },
      },
      {
        event_id: '01a220c9-278a-7176-8102-2ad981e595c5',
        occurred_at: '2026-11-28T06:13:03.498000Z',
        user_id: 'user-123',
        event_type: '$create_alias',
        properties: { distinct_id: 'user-123', alias: 'anon-456', ...NODE_PROPS },
      },
      {
        event_id: '01a220c9-278a-7176-8102-2ada815cf6be',
        occurred_at: '2026-11-28T06:13:03.498000Z',
        user_id: '$company_org-9',
        event_type: '$groupidentify',
        properties: {
          $group_type: 'company',
          $group_key: 'org-9',
          $group_set: { name: 'Acme' },
          ...NODE_PROPS,
        },
      },
      {
        event_id: '01a220c9-278a-7176-8102-2adbdeb1f215',
        occurred_at: '2026-11-28T06:13:03.498000Z',
        user_id: 'user-123',
        event_type: 'defaults only',
        properties: { ...NODE_PROPS },
      },
    ]);
  });

  it('gives events the shared validator accepts', () => {
    for (const event of mappedEvents(mapPosthog(body, ctx))) {
      expect(validateEvent(event, ctx.receivedAtMs)).toMatchObject({ ok: true });
    }
  });

  it('corrects the clock skew with sent_at', () => {
    const [first] = mappedEvents(mapPosthog(body, { receivedAtMs: ctx.receivedAtMs - 1500 }));
    expect(first?.occurred_at).toBe('2024-01-02T03:04:04.178000Z');
  });
});

// posthog-js: the key and distinct_id inside properties, person updates beside them.
const jsEvent = (extra: Record<string, unknown> = {}) => ({
  event: '$pageview',
  uuid: '0192d5b3-6c4e-7d7f-9a1b-2c3d4e5f6a7b',
  timestamp: '2024-01-02T03:04:05.678Z',
  properties: { token: 'phc_key', distinct_id: 'd-1', $current_url: 'https://x.test/' },
  ...extra,
});

describe('mapPosthog envelopes', () => {
  const ctx = at('2024-01-02T03:05:00Z');

  it('maps a posthog-js array of events, the key from properties.token (never stored)', () => {
    const body = [jsEvent(), jsEvent({ uuid: 'e-2' })];
    const batch = mapPosthog(body, ctx);
    expect(bodyKey(body, 'posthog')).toBe('phc_key');
    expect(mappedEvents(batch)).toEqual([
      {
        event_id: '0192d5b3-6c4e-7d7f-9a1b-2c3d4e5f6a7b',
        occurred_at: '2024-01-02T03:04:05.678Z',
        user_id: 'd-1',
        event_type: '$pageview',
        properties: { distinct_id: 'd-1', $current_url: 'https://x.test/' },
      },
      expect.objectContaining({ event_id: expect.stringMatching(/^[0-9a-f-]{36}$/) }),
    ]);
  });

  it('maps a single event body, its api_key or token being the key', () => {
    const body = { ...jsEvent(), api_key: 'k1', distinct_id: 'top' };
    expect(bodyKey(body, 'posthog')).toBe('k1');
    expect(mappedEvents(mapPosthog(body, ctx))).toMatchObject([{ user_id: 'top' }]);
    expect(bodyKey({ ...jsEvent(), properties: {}, token: 'k2' }, 'posthog')).toBe('k2');
    expect(bodyKey(jsEvent(), 'posthog')).toBe('phc_key');
  });

  it("prefers the envelope key, else the first event's (not looking further)", () => {
    const events = [jsEvent(), jsEvent({ properties: { distinct_id: 'd' } })];
    expect(bodyKey({ api_key: 'env', batch: events }, 'posthog')).toBe('env');
    expect(bodyKey({ batch: events }, 'posthog')).toBe('phc_key');
    expect(bodyKey({ batch: [...events].reverse() }, 'posthog')).toBeUndefined();
    expect(bodyKey({ batch: [] }, 'posthog')).toBeUndefined();
  });

  it('copies $set / $set_once given beside properties, the ones inside winning', () => {
    const event = jsEvent({
      event: '$identify',
      $set: { plan: 'pro' },
      $set_once: { first: 1 },
      properties: { distinct_id: 'd', $set: { plan: 'inside' } },
    });
    expect(mappedEvents(mapPosthog([event], ctx))[0]?.properties).toEqual({
      distinct_id: 'd',
      $set: { plan: 'inside' },
      $set_once: { first: 1 },
    });
  });

  it.each([
    ['a string', 'x', ''],
    ['null', null, ''],
    ['a batch that is not an array', { api_key: 'k', batch: 'x' }, 'batch'],
    ['an unparsable sent_at', { batch: [jsEvent()], sent_at: 'later' }, 'sent_at'],
  ])('refuses %s', (_, body, field) => {
    expect(() => mapPosthog(body, ctx)).toThrow(EnvelopeError);
    try {
      mapPosthog(body, ctx);
    } catch (error) {
      expect((error as EnvelopeError).field).toBe(field);
    }
  });
});

describe('mapPosthog field rules', () => {
  const ctx = at('2024-01-02T03:05:00Z');
  const one = (event: unknown, envelope: Record<string, unknown> = {}) =>
    mapPosthog({ ...envelope, batch: [event] }, ctx).messages[0];

  it('refuses an event without distinct_id or event name', () => {
    expect(one(jsEvent({ properties: {} }))).toEqual({
      index: 0,
      ok: false,
      field: 'distinct_id',
      message: 'is required',
    });
    expect(one(jsEvent({ event: undefined }))).toMatchObject({ ok: false, field: 'event' });
    expect(one(jsEvent({ distinct_id: { id: 1 } }))).toMatchObject({
      ok: false,
      field: 'distinct_id',
    });
    expect(one(jsEvent({ distinct_id: 12345 }))).toMatchObject({ event: { user_id: '12345' } });
  });

  it('derives a posthog-family UUIDv5 from a non-UUID uuid', () => {
    // A different value than Segment's for the same text: the family is part of the name.
    expect(one(jsEvent({ uuid: 'msg-track-0001' }))).toMatchObject({
      event: { event_id: '5352b586-68fd-5a1d-a756-08ab3023076a' },
    });
    expect(one(jsEvent({ uuid: 'not-a-uuid' }))).toMatchObject({
      event: { event_id: 'ed1b80fb-4762-5bab-8593-ab59df20770f' },
    });
  });

  it('reads time from timestamp, else offset (ms before received), else received_at', () => {
    const skewed = one(jsEvent(), { sent_at: '2024-01-02T03:04:35.678Z' });
    expect(skewed).toMatchObject({ event: { occurred_at: '2024-01-02T03:04:30.000000Z' } });
    const offset = one(jsEvent({ timestamp: undefined, offset: 2500 }));
    expect(offset).toMatchObject({ event: { occurred_at: '2024-01-02T03:04:57.500000Z' } });
    const none = one(jsEvent({ timestamp: undefined }));
    expect(none).toMatchObject({ event: { occurred_at: '2024-01-02T03:05:00.000Z' } });
    expect(one(jsEvent({ timestamp: 'Tuesday' }))).toMatchObject({
      ok: false,
      field: 'timestamp',
    });
    expect(
      one(jsEvent({ timestamp: undefined, offset: new LosslessNumber('2500') })),
    ).toMatchObject({ event: { occurred_at: '2024-01-02T03:04:57.500000Z' } });
    expect(one(jsEvent({ timestamp: undefined, offset: '5' }))).toMatchObject({
      ok: false,
      field: 'offset',
    });
  });

  it('refuses properties that are not an object', () => {
    expect(one(jsEvent({ distinct_id: 'd', properties: 'x' }))).toMatchObject({
      ok: false,
      field: 'properties',
    });
  });
});
