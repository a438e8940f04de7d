import { type TSchema, Type } from '@sinclair/typebox';
import { ErrorResponse } from './errors.js';

/**
 * The SDK envelopes, for the OpenAPI document. Requests are checked by the adapters in
 * src/ingest/sdk/ (one bad message skips that message, not the batch), not by these.
 */
export const SegmentBody = Type.Object(
  {
    batch: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
    writeKey: Type.Optional(Type.String()),
    sentAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  {
    additionalProperties: true,
    description:
      'Segment / RudderStack: `{"batch": [message...], "sentAt"}` on /v1/batch, one message on ' +
      '/v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group, /v1/alias.',
    examples: [
      {
        batch: [
          {
            type: 'track',
            event: 'Order Completed',
            userId: 'user-123',
            messageId: 'msg-0001',
            timestamp: '2025-10-19T10:00:00.000Z',
            properties: { revenue: 12.5 },
            context: { library: { name: '@segment/analytics-node', version: '3.1.0' } },
          },
        ],
        sentAt: '2025-10-19T10:00:01.000Z',
      },
    ],
  },
);

export const PosthogBody = Type.Union(
  [
    Type.Object({}, { additionalProperties: true }),
    Type.Array(Type.Object({}, { additionalProperties: true })),
  ],
  {
    description:
      'PostHog: `{"api_key", "batch": [event...], "sent_at"}` (posthog-node), one event, or an ' +
      'array of events (posthog-js, key as properties.token).',
    examples: [
      {
        api_key: '<write key>',
        batch: [
          {
            event: 'signed_up',
            distinct_id: 'user-123',
            uuid: '01890f5e-7b2a-7c3d-9e4f-5a6b7c8d9e0f',
            timestamp: '2025-10-19T10:00:00.000Z',
            properties: { plan: 'pro', $lib: 'posthog-node', $lib_version: '5.70.0' },
          },
        ],
        sent_at: '2025-10-19T10:00:01.000Z',
      },
    ],
  },
);

export const AmplitudeBody = Type.Object(
  {
    api_key: Type.Optional(Type.String()),
    events: Type.Array(Type.Object({}, { additionalProperties: true })),
  },
  {
    additionalProperties: true,
    description: 'Amplitude HTTP API v2: `{"api_key", "events": [event...]}`.',
    examples: [
      {
        api_key: '<write key>',
        events: [
          {
            event_type: 'Button Clicked',
            user_id: 'user-123',
            insert_id: 'c0ffee00-0000-4000-8000-000000000001',
            time: 1760868000000,
            event_properties: { button: 'buy' },
          },
        ],
      },
    ],
  },
);

export const SegmentResponse = Type.Object({}, { description: 'Segment answers `{}`' });
export const PosthogResponse = Type.Object({ status: Type.Literal(1) });
export const AmplitudeResponse = Type.Object({
  code: Type.Integer({ examples: [200] }),
  events_ingested: Type.Integer({
    description:
      'Events this request stored (new ones; duplicates of stored events are not counted)',
    examples: [1],
  }),
  payload_size_bytes: Type.Integer({ examples: [312] }),
  server_upload_time: Type.Integer({
    description: 'ms since the epoch',
    examples: [1760868001000],
  }),
});

/** Amplitude reads the outcome from the body's `code`, so its routes' errors carry it too. */
export const AmplitudeErrorResponse = Type.Intersect([
  Type.Object({
    code: Type.Integer({ description: 'The HTTP status, as Amplitude reads it', examples: [400] }),
    missing_field: Type.Optional(
      Type.String({
        description: 'Set on errors that retrying cannot fix, so that the SDK drops the batch',
      }),
    ),
  }),
  ErrorResponse,
]);

/**
 * The operationId of each SDK path. The SDKs' libraries spell some paths in more than one
 * way (analytics.js' one-letter paths, PostHog's with and without the trailing slash) and
 * each spelling is its own operation in the OpenAPI document, so each gets its own id. The
 * ids are part of the clients generated from the document: keep them stable.
 */
const SDK_OPERATION_IDS: Readonly<Record<string, string>> = {
  '/v1/batch': 'segmentBatch',
  '/v1/b': 'segmentBatchShort',
  '/v1/track': 'segmentTrack',
  '/v1/t': 'segmentTrackShort',
  '/v1/identify': 'segmentIdentify',
  '/v1/i': 'segmentIdentifyShort',
  '/v1/page': 'segmentPage',
  '/v1/p': 'segmentPageShort',
  '/v1/screen': 'segmentScreen',
  '/v1/s': 'segmentScreenShort',
  '/v1/group': 'segmentGroup',
  '/v1/g': 'segmentGroupShort',
  '/v1/alias': 'segmentAlias',
  '/v1/a': 'segmentAliasShort',
  '/batch/': 'posthogBatch',
  '/capture/': 'posthogCapture',
  '/capture': 'posthogCaptureNoSlash',
  '/e/': 'posthogEvents',
  '/e': 'posthogEventsNoSlash',
  '/i/v0/e/': 'posthogEventsV0',
  '/i/v0/e': 'posthogEventsV0NoSlash',
  '/2/httpapi': 'amplitudeHttpApi',
  '/batch': 'amplitudeBatch',
};

export function sdkOperationId(url: string): string {
  const id = SDK_OPERATION_IDS[url];
  if (id === undefined)
    throw new Error(`no operationId for the SDK path ${url} (src/schemas/sdk.ts)`);
  return id;
}

/**
 * Where each envelope may carry the key (the adapters' `bodyKey` in src/ingest/sdk/), for
 * the OpenAPI document: OpenAPI has no security scheme for a field of the body.
 */
export const BODY_KEY_FIELDS: ReadonlyMap<object, readonly string[]> = new Map<
  TSchema,
  readonly string[]
>([
  [SegmentBody, ['writeKey']],
  // posthog-node: on the envelope; posthog-js: on the events, or in their properties.
  [PosthogBody, ['api_key', 'token', 'properties.token']],
  [AmplitudeBody, ['api_key']],
]);
