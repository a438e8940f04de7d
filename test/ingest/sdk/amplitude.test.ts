import { describe, expect, it } from 'vitest';
import { LosslessNumber } from '../../../src/ingest/json-body.js';
import { mapAmplitude } from '../../../src/ingest/sdk/amplitude.js';
import { EnvelopeError } from '../../../src/ingest/sdk/types.js';
import { validateEvent } from '../../../src/ingest/validate-event.js';
import { bodyKey, loadCapture, mappedEvents, sentAtMs } from './fixtures.js';

const LIB = { $lib: 'amplitude-node-ts', $lib_version: '1.5.73' };
const at = (iso: string) => ({ receivedAtMs: Date.parse(iso) });

describe('mapAmplitude on the captured @amplitude/analytics-node request', () => {
  const [request] = loadCapture('amplitude').requests;
  const body = request?.body;
  const ctx = { receivedAtMs: sentAtMs(body, 'client_upload_time') };

  it('maps every event exactly', () => {
    const batch = mapAmplitude(body, ctx);
    expect(bodyKey(body, 'amplitude')).toBe('test_write_key');
    expect(mappedEvents(batch)).toEqual([
      {
        event_id: 'd90c75bd-ac17-5e1c-9295-beca42f36da7',
        occurred_at: '2024-01-02T03:04:05.678000Z',
        user_id: 'user-123',
        event_type: 'Order Completed',
        properties: {
          order_id: 'o-1',
          revenue: 12.5,
          currency: 'USD',
          items: [{ sku: 'a', qty: 2 }],
          coupon: null,
          ...LIB,
        },
      },
      {
        event_id: '86dddb77-2f00-5308-8e7a-8070516b30fc',
        occurred_at: '2024-01-02T03:04:06.000000Z',
        user_id: 'user-123',
        event_type: '$identify',
        properties: {
          user_properties: {
            $set: { email: 'u@example.com' },
            $setOnce: { first_seen: '2024-01-01' },
            $add: { logins: 1 },
          },
          ...LIB,
        },
      },
      {
        event_id: '82817d88-0548-5a3f-936d-45751014c07e',
        occurred_at: '2024-01-02T03:04:07.000000Z',
        user_id: 'user-123',
        event_type: 'Page Viewed',
        properties: { path: '/docs', ...LIB },
      },
      {
        event_id: '29056b52-26b7-4eca-bea8-e752abc1a390',
        occurred_at: '2026-11-28T06:13:11.123000Z',
        user_id: 'user-123',
        event_type: '$groupidentify',
        properties: {
          groups: { company: 'org-9' },
          group_properties: { $set: { name: 'Acme' } },
          ...LIB,
        },
      },
      {
        event_id: '614f6a5a-8ed4-48a7-b1c6-d24dd8da2484',
        occurred_at: '2026-11-28T06:13:11.123000Z',
        user_id: 'user-123',
        event_type: 'Defaults Only',
        properties: { ...LIB },
      },
    ]);
  });

  it('gives events the shared validator accepts', () => {
    for (const event of mappedEvents(mapAmplitude(body, ctx))) {
      expect(validateEvent(event, ctx.receivedAtMs)).toMatchObject({ ok: true });
    }
  });
});

const event = (extra: Record<string, unknown> = {}) => ({
  event_type: 'Played',
  user_id: 'user-1',
  device_id: 'device-1',
  insert_id: 'insert-track-0001',
  time: 1704164645678,
  ...extra,
});

describe('mapAmplitude field rules', () => {
  const ctx = at('2024-01-02T03:05:00Z');
  const one = (e: unknown, envelope: Record<string, unknown> = {}) =>
    mapAmplitude({ api_key: 'k', ...envelope, events: [e] }, ctx).messages[0];

  it('reads time as epoch ms: as is without client_upload_time, skew-corrected with it', () => {
    expect(one(event())).toMatchObject({ event: { occurred_at: '2024-01-02T03:04:05.678000Z' } });
    // The client's clock is 1 h ahead: its upload time says 04:05, we received at 03:05.
    expect(one(event(), { client_upload_time: '2024-01-02T04:05:00.000Z' })).toMatchObject({
      event: { occurred_at: '2024-01-02T02:04:05.678000Z' },
    });
    expect(one(event({ time: undefined }))).toMatchObject({
      event: { occurred_at: '2024-01-02T03:05:00.000Z' },
    });
    expect(one(event({ time: '1704164645678' }))).toEqual({
      index: 0,
      ok: false,
      field: 'time',
      message: 'must be a number of milliseconds since the epoch',
    });
    expect(one(event({ time: 1e20 }))).toMatchObject({ ok: false, field: 'time' });
    // A body holding a number a double cannot keep is parsed exactly: numbers may arrive
    // as LosslessNumber.
    expect(one(event({ time: new LosslessNumber('1704164645678') }))).toMatchObject({
      event: { occurred_at: '2024-01-02T03:04:05.678000Z' },
    });
  });

  it('takes user_id, else device_id, else refuses the event', () => {
    expect(one(event({ user_id: undefined }))).toMatchObject({ event: { user_id: 'device-1' } });
    expect(one(event({ user_id: undefined, device_id: undefined }))).toEqual({
      index: 0,
      ok: false,
      field: 'user_id',
      message: 'is required (or device_id)',
    });
  });

  it('derives an amplitude-family UUIDv5 from insert_id; no insert_id gives a fresh UUID', () => {
    expect(one(event({ insert_id: 'msg-track-0001' }))).toMatchObject({
      event: { event_id: 'f7a405d1-1374-5ee4-8069-52271241617f' },
    });
    const a = one(event({ insert_id: undefined }));
    const b = one(event({ insert_id: undefined }));
    expect(a?.ok && b?.ok && a.event.event_id !== b.event.event_id).toBe(true);
  });

  it('keeps user_properties/groups on any event, never over the client’s own keys', () => {
    const e = event({
      event_properties: { groups: 'mine', $lib: 'custom' },
      groups: { team: ['a', 'b'] },
      user_properties: { $set: { x: 1 } },
      library: 'amplitude-node-ts/1.5.73',
    });
    expect(one(e)).toMatchObject({
      event: {
        properties: {
          groups: 'mine',
          $lib: 'custom',
          $lib_version: '1.5.73',
          user_properties: { $set: { x: 1 } },
        },
      },
    });
  });

  it('refuses an event without event_type, and event_properties that are not an object', () => {
    expect(one(event({ event_type: undefined }))).toMatchObject({
      ok: false,
      field: 'event_type',
    });
    expect(one(event({ event_properties: [] }))).toMatchObject({
      ok: false,
      field: 'event_properties',
    });
  });

  it.each([
    ['an array', [event()], ''],
    ['an envelope without events', { api_key: 'k' }, 'events'],
    ['events that are not an array', { api_key: 'k', events: event() }, 'events'],
    [
      'an unparsable client_upload_time',
      { events: [], client_upload_time: 5 },
      'client_upload_time',
    ],
  ])('refuses %s', (_, body, field) => {
    expect(() => mapAmplitude(body, ctx)).toThrow(EnvelopeError);
    try {
      mapAmplitude(body, ctx);
    } catch (error) {
      expect((error as EnvelopeError).field).toBe(field);
    }
  });
});
