import { type Static, Type } from '@sinclair/typebox';

import { MAX_EVENT_TYPE_CHARS, MAX_USER_ID_CHARS } from '../ingest/rules.js';

/**
 * One event as clients send it. This schema drives the OpenAPI document and the
 * structural check in ingest/validate-event.ts; the rules it cannot express (trimming,
 * calendar-valid timestamps, the 24 h future limit, the 32 KiB properties limit) are
 * checked there too.
 */
export const EventInput = Type.Object(
  {
    event_id: Type.String({
      format: 'uuid',
      description: 'Client-generated UUID; the idempotency key',
      examples: ['6d1d4fae-7dec-11d0-a765-00a0c91e6bf6'],
    }),
    occurred_at: Type.String({
      format: 'date-time',
      description: 'ISO 8601 / RFC 3339; no offset means UTC; at most 24 h in the future',
      examples: ['2025-10-19T10:00:00Z'],
    }),
    user_id: Type.String({
      minLength: 1,
      maxLength: MAX_USER_ID_CHARS,
      description: 'Trimmed; 1..256 characters',
      examples: ['u1'],
    }),
    event_type: Type.String({
      minLength: 1,
      maxLength: MAX_EVENT_TYPE_CHARS,
      description: 'Trimmed; 1..128 characters',
      examples: ['login'],
    }),
    properties: Type.Optional(
      Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], {
        description: 'JSON object, at most 32 KiB; null or absent means {}',
        examples: [{ device: 'mobile' }],
      }),
    ),
  },
  { additionalProperties: false },
);
export type EventInput = Static<typeof EventInput>;

export const IngestBatch = Type.Array(EventInput, {
  minItems: 1,
  description: 'A batch of 1..MAX_BATCH_EVENTS events',
  examples: [
    [
      {
        event_id: '6d1d4fae-7dec-11d0-a765-00a0c91e6bf6',
        occurred_at: '2025-10-19T10:00:00Z',
        user_id: 'u1',
        event_type: 'login',
        properties: { device: 'mobile' },
      },
    ],
  ],
});

export const IngestResult = Type.Object(
  {
    accepted: Type.Integer({ description: 'New events stored', examples: [1] }),
    skipped: Type.Integer({
      description: 'Duplicates: already stored, or repeated in this batch',
      examples: [0],
    }),
  },
  {},
);
export type IngestResult = Static<typeof IngestResult>;
