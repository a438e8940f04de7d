import { describe, expect, it } from 'vitest';
import { parseJsonExactly, toJsonText } from '../../../src/ingest/json-body.js';
import { mapSegment } from '../../../src/ingest/sdk/segment.js';
import { EnvelopeError } from '../../../src/ingest/sdk/types.js';
import { validateEvent } from '../../../src/ingest/validate-event.js';
import { bodyKey, loadCapture, mappedEvents, sentAtMs } from './fixtures.js';

const SEGMENT_LIB = { $lib: '@segment/analytics-node', $lib_version: '3.1.0' };
const RUDDER_LIB = { $lib: 'analytics-node', $lib_version: '3.0.13' };
const ORDER = {
  order_id: 'o-1',
  revenue: 12.5,
  currency: 'USD',
  items: [{ sku: 'a', qty: 2 }],
  coupon: null,
};
const at = (iso: string) => ({ receivedAtMs: Date.parse(iso) });

describe('mapSegment on the captured @segment/analytics-node batch', () => {
  const [request] = loadCapture('segment').requests;
  const body = request?.body;
  // Received the instant it was sent: the skew correction changes nothing.
  const ctx = { receivedAtMs: sentAtMs(body, 'sentAt') };

  it('maps every message exactly', () => {
    const batch = mapSegment(body, ctx);
    expect(bodyKey(body, 'segment-batch')).toBe('test_write_key');
    expect(mappedEvents(batch)).toEqual([
      {
        // UUIDv5 ids here and below computed independently (Python's uuid.uuid5).
        event_id: '5fb83ebb-d5a7-53e3-b088-233c2f27a8ce',
        occurred_at: '2024-01-02T03:04:05.678000Z',
        user_id: 'user-123',
        event_type: 'Order Completed',
        properties: { ...ORDER, ...SEGMENT_LIB },
      },
      {
        event_id: '1cb56f01-236b-5408-9bd1-5f6804946c85',
        occurred_at: '2024-01-02T03:04:06.000000Z',
        user_id: 'user-123',
        event_type: '$identify',
        properties: { email: 'u@example.com', plan: 'pro', logins: 3, ...SEGMENT_LIB },
      },
      {
        event_id: '733252a3-d917-586c-8335-43f20b4d58b6',
        occurred_at: '2024-01-02T03:05:06.789000Z',
        user_id: 'user-123',
        event_type: '$pageview',
        properties: {
          url: 'https://example.com/docs',
          path: '/docs',
          referrer: 'https://google.com/',
          category: 'Docs',
          name: 'Getting Started',
          ...SEGMENT_LIB,
        },
      },
      {
        event_id: '1547a5ed-e883-5b85-81e4-733b62b6326d',
        occurred_at: '2024-01-02T03:04:08.000000Z',
        user_id: 'anon-456',
        event_type: '$screen',
        properties: { variant: 'b', name: 'Home', ...SEGMENT_LIB },
      },
      {
        event_id: 'e4b95b42-a5db-5586-bd2c-4b99d93452b1',
        occurred_at: '2026-11-28T06:13:24.151000Z',
        user_id: 'user-123',
        event_type: '$groupidentify',
        properties: { name: 'Acme', groupId: 'org-9', ...SEGMENT_LIB },
      },
      {
        event_id: '410616e5-d9d9-5757-8082-5b0d05954aa6',
        occurred_at: '2026-11-28T06:13:24.151000Z',
        user_id: 'user-123',
        event_type: '$create_alias',
        properties: { previousId: 'anon-456', ...SEGMENT_LIB },
      },
      {
        event_id: 'e010f41d-9b66-58dc-855e-83693874319d',
        occurred_at: '2026-11-28T06:13:24.151000Z',
        user_id: 'user-123',
        event_type: 'Defaults Only',
        properties: { ...SEGMENT_LIB },
      },
    ]);
  });

  it('gives events the shared validator accepts', () => {
    for (const event of mappedEvents(mapSegment(body, ctx))) {
      expect(validateEvent(event, ctx.receivedAtMs)).toMatchObject({ ok: true });
    }
  });

  it('corrects the clock skew: a client 2 s behind gets its events moved 2 s later', () => {
    const [track] = mappedEvents(mapSegment(body, { receivedAtMs: ctx.receivedAtMs + 2000 }));
    expect(track?.occurred_at).toBe('2024-01-02T03:04:07.678000Z');
  });
});

describe('mapSegment on the captured RudderStack batches (same protocol)', () => {
  const capture = loadCapture('rudderstack');
  const [first, second] = capture.requests;
  const [gzipOff] = capture.requests_gzip_false as { body: unknown }[];

  it('maps the first request (one track event, flushed alone)', () => {
    const batch = mapSegment(first?.body, { receivedAtMs: sentAtMs(first?.body, 'sentAt') });
    // RudderStack sends its key in HTTP Basic only.
    expect(bodyKey(first?.body, 'segment-batch')).toBeUndefined();
    expect(mappedEvents(batch)).toEqual([
      {
        event_id: '5fb83ebb-d5a7-53e3-b088-233c2f27a8ce',
        occurred_at: '2024-01-02T03:04:05.678000Z',
        user_id: 'user-123',
        event_type: 'Order Completed',
        properties: { ...ORDER, ...RUDDER_LIB },
      },
    ]);
  });

  it('maps the second request, taking originalTimestamp when there is no timestamp', () => {
    const batch = mapSegment(second?.body, { receivedAtMs: sentAtMs(second?.body, 'sentAt') });
    expect(mappedEvents(batch)).toEqual([
      {
        event_id: '1cb56f01-236b-5408-9bd1-5f6804946c85',
        occurred_at: '2024-01-02T03:04:06.000000Z',
        user_id: 'user-123',
        event_type: '$identify',
        properties: { email: 'u@example.com', plan: 'pro', logins: 3, ...RUDDER_LIB },
      },
      {
        event_id: '733252a3-d917-586c-8335-43f20b4d58b6',
        occurred_at: '2024-01-02T03:04:07.000000Z',
        user_id: 'user-123',
        event_type: '$pageview',
        properties: {
          url: 'https://example.com/docs',
          path: '/docs',
          name: 'Getting Started',
          category: 'Docs',
          ...RUDDER_LIB,
        },
      },
      {
        event_id: '1547a5ed-e883-5b85-81e4-733b62b6326d',
        occurred_at: '2024-01-02T03:04:08.000000Z',
        user_id: 'anon-456',
        event_type: '$screen',
        properties: { variant: 'b', name: 'Home', ...RUDDER_LIB },
      },
      {
        event_id: 'e4b95b42-a5db-5586-bd2c-4b99d93452b1',
        occurred_at: '2026-11-28T06:13:29.374000Z',
        user_id: 'user-123',
        event_type: '$groupidentify',
        properties: { name: 'Acme', groupId: 'org-9', ...RUDDER_LIB },
      },
      {
        event_id: '410616e5-d9d9-5757-8082-5b0d05954aa6',
        occurred_at: '2026-11-28T06:13:29.374000Z',
        user_id: 'user-123',
        event_type: '$create_alias',
        properties: { previousId: 'anon-456', ...RUDDER_LIB },
      },
      {
        event_id: 'fc432453-7290-48e6-b61f-7051b2e9ae88', // a UUID already: kept
        occurred_at: '2026-11-28T06:13:29.374000Z',
        user_id: 'user-123',
        event_type: 'Defaults Only',
        properties: { ...RUDDER_LIB },
      },
    ]);
  });

  it('maps the plain-JSON request (gzip: false)', () => {
    const batch = mapSegment(gzipOff?.body, { receivedAtMs: sentAtMs(gzipOff?.body, 'sentAt') });
    expect(mappedEvents(batch)).toEqual([
      {
        event_id: '204a8663-859c-58ec-b23b-a7a0fc24e780',
        occurred_at: '2024-01-02T03:04:09.000000Z',
        user_id: 'user-123',
        event_type: 'Gzip Off',
        properties: { ...RUDDER_LIB },
      },
    ]);
  });

  it("uses the message's own sentAt over the envelope's", () => {
    const body = {
      sentAt: '2024-01-02T03:00:10Z',
      batch: [
        {
          type: 'track',
          event: 'e',
          userId: 'u',
          messageId: 'm',
          originalTimestamp: '2024-01-02T03:00:00Z',
          sentAt: '2024-01-02T03:00:05Z',
        },
      ],
    };
    const [event] = mappedEvents(mapSegment(body, at('2024-01-02T03:00:05Z')));
    expect(event?.occurred_at).toBe('2024-01-02T03:00:00.000000Z');
  });
});

const track = (extra: Record<string, unknown> = {}) => ({
  type: 'track',
  event: 'Signed Up',
  userId: 'u1',
  messageId: 'm-1',
  timestamp: '2024-01-02T03:04:05.678123Z',
  ...extra,
});

describe('mapSegment single-message endpoints', () => {
  it('takes the type from the endpoint, and the key and sentAt from the message', () => {
    const body = {
      type: 'identify', // the endpoint wins: this came to /v1/track
      event: 'Signed Up',
      userId: 'u1',
      messageId: 'm-1',
      properties: { plan: 'pro' },
      traits: { ignored: true },
      timestamp: '2024-01-02T03:04:05Z',
      sentAt: '2024-01-02T03:04:15Z',
      writeKey: 'wk',
    };
    const batch = mapSegment(body, at('2024-01-02T03:04:10Z'), 'track');
    expect(bodyKey(body, 'segment-single')).toBe('wk');
    expect(mappedEvents(batch)).toEqual([
      {
        event_id: '23e7ccf9-bc36-5a2e-86f1-20f5774eaa2e',
        occurred_at: '2024-01-02T03:04:00.000000Z',
        user_id: 'u1',
        event_type: 'Signed Up',
        properties: { plan: 'pro' },
      },
    ]);
  });

  it.each([
    ['identify', '$identify', { traits: { a: 1 } }, { a: 1 }],
    ['page', '$pageview', { name: 'Home', properties: { b: 2 } }, { b: 2, name: 'Home' }],
    ['screen', '$screen', { name: 'S', category: 'C' }, { name: 'S', category: 'C' }],
    ['group', '$groupidentify', { groupId: 'g', traits: { c: 3 } }, { c: 3, groupId: 'g' }],
    ['alias', '$create_alias', { previousId: 'old' }, { previousId: 'old' }],
  ] as const)('%s -> %s', (type, eventType, fields, properties) => {
    const body = { userId: 'u1', messageId: 'm-1', ...fields };
    const [event] = mappedEvents(mapSegment(body, at('2024-01-02T00:00:00Z'), type));
    expect(event).toMatchObject({ event_type: eventType, properties });
  });
});

describe('mapSegment on analytics.js (analytics-next) shapes', () => {
  // From analytics-next's segmentio plugin: standard mode posts each message alone (with
  // its type, writeKey and sentAt) to /v1/<first letter of the type>; batching mode posts
  // {writeKey, batch, sentAt} to /v1/b, the messages without their own sentAt.
  const message = {
    type: 'page',
    messageId: 'ajs-next-1709632800000-2d7b4c8e-9f1a-0b2c-3d4e-5f60c0ffee00',
    anonymousId: '7c2a4f9e-1b3d-4e5f-8a6b-9c0d1e2f3a4b',
    userId: null,
    name: 'Pricing',
    properties: { path: '/pricing', url: 'https://example.com/pricing', title: 'Pricing' },
    timestamp: '2024-03-05T10:00:00.000Z',
    context: { library: { name: 'analytics.js', version: 'npm:next-1.70.0' }, locale: 'en' },
    integrations: {},
    writeKey: 'browser-key',
    sentAt: '2024-03-05T10:00:00.500Z',
  };
  const expected = {
    event_id: '7a1ea3a9-7a4c-5ee4-8a6b-d0faffd9ab95',
    occurred_at: '2024-03-05T10:00:00.000000Z',
    user_id: '7c2a4f9e-1b3d-4e5f-8a6b-9c0d1e2f3a4b',
    event_type: '$pageview',
    properties: {
      path: '/pricing',
      url: 'https://example.com/pricing',
      title: 'Pricing',
      name: 'Pricing',
      $lib: 'analytics.js',
      $lib_version: 'npm:next-1.70.0',
    },
  };
  const ctx = at('2024-03-05T10:00:00.500Z');

  it('maps a standard-mode message (the type from the path, the key from the message)', () => {
    const batch = mapSegment(message, ctx, 'page');
    expect(bodyKey(message, 'segment-single')).toBe('browser-key');
    expect(mappedEvents(batch)).toEqual([expected]);
  });

  it('maps a batching-mode envelope', () => {
    const { sentAt: _, ...withoutSentAt } = message;
    const body = { writeKey: 'browser-key', batch: [withoutSentAt], sentAt: message.sentAt };
    const batch = mapSegment(body, ctx);
    expect(bodyKey(body, 'segment-batch')).toBe('browser-key');
    expect(mappedEvents(batch)).toEqual([expected]);
  });
});

describe('mapSegment field rules', () => {
  const ctx = at('2024-01-02T03:10:00Z');
  const one = (message: unknown, envelope: Record<string, unknown> = {}) =>
    mapSegment({ ...envelope, batch: [message] }, ctx).messages[0];

  it('passes the client timestamp through unchanged (microseconds, offset) without sentAt', () => {
    const message = one(track({ timestamp: '2024-01-02T04:05:06.789123+01:00' }));
    expect(message).toMatchObject({
      ok: true,
      event: { occurred_at: '2024-01-02T04:05:06.789123+01:00' },
    });
  });

  it('corrects the skew to the microsecond: received - (sentAt - timestamp)', () => {
    const message = one(track(), { sentAt: '2024-01-02T03:10:10.000Z' }); // client 10 s ahead
    expect(message).toMatchObject({ event: { occurred_at: '2024-01-02T03:03:55.678123Z' } });
  });

  it('uses received_at when there is no timestamp, with or without sentAt', () => {
    for (const envelope of [{}, { sentAt: '2024-01-02T03:10:10Z' }]) {
      const message = one(track({ timestamp: undefined }), envelope);
      expect(message).toMatchObject({ event: { occurred_at: '2024-01-02T03:10:00.000Z' } });
    }
  });

  it('refuses an unparsable time, naming the field it came from', () => {
    expect(one(track({ timestamp: 'yesterday' }))).toMatchObject({
      ok: false,
      field: 'timestamp',
    });
    expect(one(track({ timestamp: 1704164645678 }))).toEqual({
      index: 0,
      ok: false,
      field: 'timestamp',
      message: 'must be an ISO 8601 date-time string',
    });
    expect(one(track({ timestamp: undefined, originalTimestamp: '2024-02-30T00:00:00Z' }))).toEqual(
      {
        index: 0,
        ok: false,
        field: 'originalTimestamp',
        message: 'has an impossible date 2024-02-30',
      },
    );
    expect(one(track({ sentAt: 'soon' }))).toMatchObject({ ok: false, field: 'sentAt' });
  });

  it('derives the same UUID for the same non-UUID messageId, and keeps UUIDs (lower-cased)', () => {
    const a = one(track({ messageId: 'msg-track-0001' }));
    const b = one(track({ messageId: 'msg-track-0001', event: 'Other' }));
    expect(a).toMatchObject({ event: { event_id: '5fb83ebb-d5a7-53e3-b088-233c2f27a8ce' } });
    expect(b).toMatchObject({ event: { event_id: '5fb83ebb-d5a7-53e3-b088-233c2f27a8ce' } });
    expect(one(track({ messageId: 'FC432453-7290-48E6-B61F-7051B2E9AE88' }))).toMatchObject({
      event: { event_id: 'fc432453-7290-48e6-b61f-7051b2e9ae88' },
    });
    expect(one(track({ messageId: 42 }))).toMatchObject({
      event: { event_id: '4831c31b-a8f9-5cd0-932f-56f51857660a' },
    });
    expect(one(track({ messageId: { id: 1 } }))).toEqual({
      index: 0,
      ok: false,
      field: 'messageId',
      message: 'must be a string',
    });
  });

  it('gives a message without messageId a fresh random UUID', () => {
    const ids = [undefined, null, ''].map((messageId) => {
      const message = one(track({ messageId }));
      return message?.ok ? message.event.event_id : '';
    });
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/);
    expect(new Set(ids).size).toBe(3);
  });

  it('takes userId, else anonymousId, else refuses the message', () => {
    expect(one(track({ userId: 'u', anonymousId: 'a' }))).toMatchObject({
      event: { user_id: 'u' },
    });
    for (const userId of [undefined, null, '', '  ']) {
      expect(one(track({ userId, anonymousId: 'a' }))).toMatchObject({
        event: { user_id: 'a' },
      });
    }
    expect(one(track({ userId: 7 }))).toMatchObject({ event: { user_id: '7' } });
    expect(one(track({ userId: undefined }))).toEqual({
      index: 0,
      ok: false,
      field: 'userId',
      message: 'is required (or anonymousId)',
    });
    expect(one(track({ userId: ['u'] }))).toMatchObject({ ok: false, field: 'userId' });
  });

  it('refuses unknown types, track without event, and traits/properties that are not objects', () => {
    expect(one(track({ type: 'purchase' }))).toMatchObject({ ok: false, field: 'type' });
    expect(one(track({ event: undefined }))).toMatchObject({ ok: false, field: 'event' });
    expect(one(track({ properties: [1] }))).toMatchObject({ ok: false, field: 'properties' });
    expect(one({ ...track(), type: 'identify', traits: 'x' })).toMatchObject({
      ok: false,
      field: 'traits',
    });
  });

  it('never overwrites what the client put in properties: its $lib, name or previousId win', () => {
    const context = { library: { name: 'sdk', version: '1' } };
    expect(
      one(track({ properties: { $lib: 'mine', nested: { a: [1, null] } }, context })),
    ).toMatchObject({
      event: { properties: { $lib: 'mine', $lib_version: '1', nested: { a: [1, null] } } },
    });
    expect(
      one({ ...track(), type: 'page', name: 'Page', properties: { name: 'Mine' } }),
    ).toMatchObject({ event: { properties: { name: 'Mine' } } });
    expect(
      one({ ...track(), type: 'alias', previousId: 'old', properties: { previousId: 'x' } }),
    ).toMatchObject({ event: { properties: { previousId: 'old' } } }); // alias has no properties
  });

  it('falls back to the batch-level context.library, the message’s own winning', () => {
    const envelope = { context: { library: { name: 'batch-lib' } } };
    expect(one(track(), envelope)).toMatchObject({ event: { properties: { $lib: 'batch-lib' } } });
    const own = track({ context: { library: { name: 'own', version: '2' } } });
    expect(one(own, envelope)).toMatchObject({
      event: { properties: { $lib: 'own', $lib_version: '2' } },
    });
  });

  it('skips an entry that is not an object, mapping the others', () => {
    const batch = mapSegment({ batch: [track(), 'x', null, track({ messageId: 'm-2' })] }, ctx);
    expect(batch.messages.map((m) => [m.index, m.ok])).toEqual([
      [0, true],
      [1, false],
      [2, false],
      [3, true],
    ]);
    expect(batch.messages[1]).toEqual({
      index: 1,
      ok: false,
      field: '',
      message: 'must be a JSON object',
    });
  });
});

describe('mapSegment malformed envelopes', () => {
  const ctx = at('2024-01-02T00:00:00Z');
  it.each([
    ['an array', [track()], ''],
    ['a string', 'batch', ''],
    ['null', null, ''],
    ['an envelope without batch', { writeKey: 'k' }, 'batch'],
    ['a batch that is not an array', { batch: { 0: track() } }, 'batch'],
    ['an unparsable envelope sentAt', { batch: [track()], sentAt: 'now' }, 'sentAt'],
  ])('refuses %s', (_, body, field) => {
    expect(() => mapSegment(body, ctx)).toThrow(EnvelopeError);
    try {
      mapSegment(body, ctx);
    } catch (error) {
      expect((error as EnvelopeError).field).toBe(field);
    }
  });

  it('refuses a single-message body that is not an object', () => {
    expect(() => mapSegment([track()], ctx, 'track')).toThrow(EnvelopeError);
  });

  it('maps an empty batch to no messages, and ignores a non-string writeKey', () => {
    expect(mapSegment({ batch: [], writeKey: 5 }, ctx)).toEqual({ messages: [] });
    expect(bodyKey({ batch: [], writeKey: 5 }, 'segment-batch')).toBeUndefined();
  });
});

describe('mapSegment on bodies parsed exactly (parseJsonExactly)', () => {
  const ctx = at('2024-01-02T03:10:00Z');

  it('keeps every digit of numeric ids a double cannot hold', () => {
    const body = parseJsonExactly(
      '{"batch":[{"type":"track","event":"E","userId":9007199254740993,' +
        '"messageId":12345678901234567890,"timestamp":"2024-01-02T03:04:05Z"}]}',
    );
    expect(mappedEvents(mapSegment(body, ctx))).toMatchObject([
      { user_id: '9007199254740993', event_id: 'e1e81295-36f8-54bf-9ca5-4bdbd6687c67' },
    ]);
  });

  it('passes properties through untouched: __proto__ keys and exact numbers stay data', () => {
    const body = parseJsonExactly(
      '{"batch":[{"type":"track","event":"E","userId":"u","messageId":"m",' +
        '"properties":{"__proto__":{"admin":true},"big":12345678901234567890,"n":1}}]}',
    );
    const [event] = mappedEvents(mapSegment(body, ctx));
    const properties = event?.properties as Record<string, unknown>;
    expect(Object.getPrototypeOf(properties)).toBe(Object.prototype);
    expect(Object.keys(properties)).toEqual(['__proto__', 'big', 'n']);
    expect(toJsonText(properties)).toBe(
      '{"__proto__":{"admin":true},"big":12345678901234567890,"n":1}',
    );
  });

  it('refuses properties that are a number, even an exact one', () => {
    const body = parseJsonExactly(
      '{"batch":[{"type":"track","event":"E","userId":"u","properties":12345678901234567890}]}',
    );
    expect(mapSegment(body, ctx).messages[0]).toMatchObject({ ok: false, field: 'properties' });
  });
});
