import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  deriveEventId,
  eventTime,
  eventTimeFromEpochMs,
  libraryFromSlashed,
  MessageProblem,
  SDK_EVENT_ID_NAMESPACE,
} from '../../../src/ingest/sdk/common.js';
import { parseTimestamp } from '../../../src/ingest/timestamp.js';

// Instants from 1900 to 2200, in ms.
const instantMs = fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2200, 0, 1) });
const iso = (ms: number) => new Date(ms).toISOString();

describe('eventTime clock-skew correction', () => {
  it('equals received - (sent - timestamp), to the millisecond (oracle: Date arithmetic)', () => {
    fc.assert(
      fc.property(
        instantMs,
        fc.integer({ min: -86_400_000 * 365, max: 86_400_000 * 365 }),
        fc.integer({ min: -86_400_000, max: 86_400_000 }),
        (timestampMs, ageMs, skewMs) => {
          const sentMs = timestampMs + ageMs;
          const receivedMs = sentMs - skewMs;
          const text = eventTime(
            { receivedAtMs: receivedMs },
            { field: 'timestamp', value: iso(timestampMs) },
            { field: 'sentAt', value: iso(sentMs) },
          );
          const parsed = parseTimestamp(text);
          expect(typeof parsed).toBe('object');
          expect(parsed).toMatchObject({ epochMs: receivedMs - (sentMs - timestampMs) });
          expect(text).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
        },
      ),
    );
  });

  it('keeps the microseconds of timestamp and sentAt', () => {
    const text = eventTime(
      { receivedAtMs: Date.parse('2024-01-02T00:00:00Z') },
      { field: 'timestamp', value: '2024-01-01T23:59:59.999999Z' },
      { field: 'sentAt', value: '2024-01-02T00:00:00.000001+00:00' },
    );
    expect(text).toBe('2024-01-01T23:59:59.999998Z');
  });

  it('handles instants before 1970 (negative epoch) exactly', () => {
    const text = eventTime(
      { receivedAtMs: Date.parse('1969-12-31T23:59:59.000Z') },
      { field: 'timestamp', value: '1969-12-31T23:59:58.000250Z' },
      { field: 'sentAt', value: '1969-12-31T23:59:59.000Z' },
    );
    expect(text).toBe('1969-12-31T23:59:58.000250Z');
  });

  it('refuses a correction that leaves years 0001-9999', () => {
    const call = () =>
      eventTime(
        { receivedAtMs: Date.parse('2024-01-02T00:00:00Z') },
        { field: 'timestamp', value: '0001-01-01T00:00:00Z' },
        { field: 'sentAt', value: '9999-01-01T00:00:00Z' },
      );
    expect(call).toThrow(MessageProblem);
    expect(call).toThrow(/after clock-skew correction/);
  });

  it('epoch-ms timestamps match ISO ones', () => {
    fc.assert(
      fc.property(instantMs, instantMs, instantMs, (timestampMs, sentMs, receivedMs) => {
        const ctx = { receivedAtMs: receivedMs };
        const sentAt = { field: 'sentAt', value: iso(sentMs) };
        expect(eventTimeFromEpochMs(ctx, { field: 'time', value: timestampMs }, sentAt)).toBe(
          eventTime(ctx, { field: 'timestamp', value: iso(timestampMs) }, sentAt),
        );
      }),
    );
  });
});

describe('deriveEventId', () => {
  const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('is a deterministic UUIDv5 per (family, id), different across families', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((s) => s.trim() !== ''),
        (id) => {
          const segment = deriveEventId('segment', id, 'messageId');
          expect(segment).toMatch(UUID_V5);
          expect(deriveEventId('segment', id, 'messageId')).toBe(segment);
          expect(deriveEventId('posthog', id, 'uuid')).not.toBe(segment);
          expect(deriveEventId('amplitude', id, 'insert_id')).not.toBe(segment);
        },
      ),
    );
  });

  it('keeps UUIDs of any version, lower-cased and trimmed', () => {
    fc.assert(
      fc.property(fc.uuid(), (uuid) => {
        expect(deriveEventId('amplitude', ` ${uuid.toUpperCase()}`, 'insert_id')).toBe(uuid);
      }),
    );
  });

  it('keeps its namespace forever (changing it would store every retry twice)', () => {
    expect(SDK_EVENT_ID_NAMESPACE).toBe('9f3c2b6e-5d0a-4c1e-8b7f-2a6d4e8c1f05');
  });
});

describe('libraryFromSlashed', () => {
  it('splits at the last slash', () => {
    expect(libraryFromSlashed('amplitude-node-ts/1.5.73')).toEqual({
      name: 'amplitude-node-ts',
      version: '1.5.73',
    });
    expect(libraryFromSlashed('@scope/lib/2.0')).toEqual({ name: '@scope/lib', version: '2.0' });
    expect(libraryFromSlashed('plain')).toEqual({ name: 'plain', version: undefined });
    expect(libraryFromSlashed('lib/')).toEqual({ name: 'lib', version: undefined });
    expect(libraryFromSlashed(3)).toBeUndefined();
  });
});
