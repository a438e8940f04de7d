import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { mapAmplitude } from '../ingest/sdk/amplitude.js';
import {
  type EnvelopeKind,
  type EnvelopeOutline,
  outlineEnvelope,
  parseEnvelope,
} from '../ingest/sdk/envelope.js';
import { mapPosthog } from '../ingest/sdk/posthog.js';
import { mapSegment, SEGMENT_TYPES } from '../ingest/sdk/segment.js';
import { EnvelopeError, type SdkBatch } from '../ingest/sdk/types.js';
import { MAX_ERROR_DETAILS, validateBatch } from '../ingest/validate-batch.js';
import type { WriteResult } from '../ingest/write-events.js';
import { checkCharset, decodeJsonText, parseJsonText } from '../plugins/body-parser.js';
import { errorHandler } from '../plugins/errors.js';
import type { IngestSource } from '../plugins/ingest.js';
import { ErrorResponse } from '../schemas/errors.js';
import {
  AmplitudeBody,
  AmplitudeErrorResponse,
  AmplitudeResponse,
  PosthogBody,
  PosthogResponse,
  SegmentBody,
  SegmentResponse,
  sdkOperationId,
} from '../schemas/sdk.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** SDK routes: the envelope their bodies come in (src/ingest/sdk/envelope.ts). */
    sdkEnvelope?: EnvelopeKind;
  }
}

const errorResponses = {
  400: ErrorResponse,
  401: ErrorResponse,
  403: ErrorResponse,
  413: ErrorResponse,
  415: ErrorResponse,
  429: ErrorResponse,
  503: ErrorResponse,
};

/**
 * Labels of skipped events in /metrics: our field at fault, from a closed set. The adapters
 * name the SDK's field (a track without `event`, a bad `timestamp`), our validator ours (a
 * blank event type, a time too far ahead): both count under our field, so one problem has
 * one label whichever check found it.
 */
const REASONS: Record<string, string> = {
  event_id: 'event_id',
  messageId: 'event_id',
  uuid: 'event_id',
  insert_id: 'event_id',
  occurred_at: 'occurred_at',
  timestamp: 'occurred_at',
  originalTimestamp: 'occurred_at',
  sentAt: 'occurred_at',
  time: 'occurred_at',
  offset: 'occurred_at',
  user_id: 'user_id',
  userId: 'user_id',
  anonymousId: 'user_id',
  distinct_id: 'user_id',
  'properties.distinct_id': 'user_id',
  device_id: 'user_id',
  event_type: 'event_type',
  event: 'event_type',
  type: 'event_type',
  properties: 'properties',
  traits: 'properties',
  event_properties: 'properties',
};

interface SdkWrite extends WriteResult {
  /** Messages that were valid: stored now or before. */
  valid: number;
}

/**
 * Budgets of an SDK body's JSON, checked from its outline before it is parsed: what
 * JSON.parse costs grows with the values it builds (~1 µs per empty object, so 10 MB of
 * `{},` took 3.4 s and 750 MB), so these bound the parse of one request to ~100 ms
 * whatever its shape. A 5000-message batch of what the SDKs send uses a tenth of them.
 */
export const MAX_BODY_CONTAINERS = 200_000;
export const MAX_BODY_SEPARATORS = 1_000_000;

/**
 * The shared part of every SDK endpoint once the body is admitted (admitBody: key, batch
 * limit, rate limit): our validation of each mapped message; valid events are stored
 * through the same write path as POST /events, invalid ones are skipped (counted and
 * logged) so that one bad message does not cost the client the batch (these SDKs drop a
 * batch answered with 400).
 */
async function ingestSdkBatch(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  source: IngestSource,
  map: (receivedAtMs: number) => SdkBatch,
): Promise<SdkWrite> {
  const receivedAtMs = Date.now() - reply.elapsedTime;
  let batch: SdkBatch;
  try {
    batch = map(receivedAtMs);
  } catch (error) {
    if (!(error instanceof EnvelopeError)) throw error;
    throw new ApiError(
      400,
      'bad_request',
      `the request is not a ${source} batch: ${error.field || 'body'} ${error.message}`,
      [{ field: error.field || 'body', message: error.message }],
    );
  }
  const project = await app.projects.forRequest(request);
  const messages = batch.messages;

  // Mapping problems (the SDK's fields) and our validation's (the same validateBatch as
  // POST /events, without its stop: here invalid messages are skipped, not the batch).
  const mapped = messages.flatMap((m) => (m.ok ? [m] : []));
  const { valid, invalid } = validateBatch(
    mapped.map((m) => m.event),
    receivedAtMs,
    { stopAtCap: false },
  );
  const skipped = [
    ...messages.flatMap((m) =>
      m.ok ? [] : [{ index: m.index, field: m.field, message: m.message }],
    ),
    ...invalid.map(({ index, errors }) => ({
      index: mapped[index]?.index ?? index,
      field: errors[0]?.field ?? '',
      message: errors.map((e) => `${e.field} ${e.message}`).join('; '),
    })),
  ].sort((a, b) => a.index - b.index);
  if (skipped.length > 0) {
    for (const s of skipped) app.ingest.reject(source, REASONS[s.field] ?? 'other', 1);
    request.log.warn(
      {
        logger: 'ingest',
        source,
        skipped: skipped.length,
        events: skipped.slice(0, MAX_ERROR_DETAILS),
      },
      `skipped ${skipped.length} invalid of ${messages.length} ${source} messages`,
    );
  }
  const result = await app.ingest.write(project.id, source, valid);
  return { ...result, valid: valid.length };
}

/**
 * Amplitude retries a refused batch (up to flushMaxRetries) unless the body names a
 * `missing_field` (or its error starts "Invalid API key", which our error codes cannot):
 * set it on the 4xx that retrying cannot fix. 413 and 429 keep Amplitude's own handling.
 */
function amplitudeDrop(
  status: number,
  body: { details?: { field: string }[] },
): { missing_field?: string } {
  if (status < 400 || status >= 500 || status === 413 || status === 429) return {};
  if (status === 401 || status === 403) return { missing_field: 'api_key' };
  return { missing_field: body.details?.[0]?.field ?? 'body' };
}

const sdkRoutes: FastifyPluginAsyncTypebox<{ maxBatchEvents: number }> = async (app, opts) => {
  const admitted = new WeakSet<FastifyRequest>();

  /**
   * Everything a request must pass before its body is parsed, from the body's outline
   * (one pass over its text, src/ingest/sdk/envelope.ts): the key (a header key was
   * checked before the body was read; else the one in the body), the batch limit (413),
   * the JSON budgets (413) and the rate limit (429). A request refused here costs no parse
   * and no work per message, whatever its size.
   */
  async function admitBody(request: FastifyRequest, body: Uint8Array): Promise<EnvelopeOutline> {
    const kind = request.routeOptions.config.sdkEnvelope ?? 'posthog';
    const outline = outlineEnvelope(body, kind);
    await app.auth.requireBodyKey(request, outline.key, body.length);
    if (outline.count > opts.maxBatchEvents) {
      app.ingest.reject(outline.family, 'batch_too_large', outline.count);
      throw new ApiError(
        413,
        'payload_too_large',
        `the batch has ${outline.count} messages; the limit is ${opts.maxBatchEvents} (MAX_BATCH_EVENTS)`,
      );
    }
    if (outline.containers > MAX_BODY_CONTAINERS || outline.separators > MAX_BODY_SEPARATORS) {
      app.ingest.reject(outline.family, 'batch_too_large', outline.count);
      throw new ApiError(
        413,
        'payload_too_large',
        `the body holds more than ${MAX_BODY_CONTAINERS} JSON objects and arrays or ${MAX_BODY_SEPARATORS} values: send smaller batches`,
      );
    }
    app.ingest.admit(request, outline.count);
    admitted.add(request);
    return outline;
  }

  // RudderStack sends gzipped JSON as application/x-www-form-urlencoded (axios' default for
  // a Buffer), posthog-js as text/plain: on these routes all three are read as JSON. The
  // body is admitted from its bytes before it is decoded or parsed.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    ['application/json', 'application/x-www-form-urlencoded', 'text/plain'],
    { parseAs: 'buffer' },
    (
      request: FastifyRequest,
      body: Buffer,
      done: (error: Error | null, body?: unknown) => void,
    ) => {
      (async () => {
        checkCharset(request);
        const outline = await admitBody(request, body);
        const text = decodeJsonText(request, body);
        return parseJsonText(text, (t) => parseEnvelope(t, body, outline));
      })().then(
        (parsed) => done(null, parsed),
        (error: Error) => done(error),
      );
    },
  );
  // A request without a body never reaches a parser: it is admitted here (and refused
  // without a key), then answered 400 by its adapter.
  app.addHook('preHandler', async (request) => {
    if (!admitted.has(request)) await admitBody(request, new Uint8Array());
  });

  const common = {
    config: { access: 'write' as const, keyInBody: true },
    validatorCompiler: () => () => true,
  };
  const withEnvelope = (sdkEnvelope: EnvelopeKind) => ({
    ...common,
    config: { ...common.config, sdkEnvelope },
  });

  // Segment and RudderStack (one protocol).
  // analytics.js (analytics-next) posts to the same paths shortened to their first letter.
  const segmentPaths = [
    ['/v1/batch', undefined],
    ['/v1/b', undefined],
    ...SEGMENT_TYPES.map((type) => [`/v1/${type}`, type] as const),
    ...SEGMENT_TYPES.map((type) => [`/v1/${type.charAt(0)}`, type] as const),
  ] as const;
  for (const [url, impliedType] of segmentPaths) {
    app.post(
      url,
      {
        ...withEnvelope(impliedType ? 'segment-single' : 'segment-batch'),
        schema: {
          tags: ['sdk'],
          operationId: sdkOperationId(url),
          summary: impliedType
            ? `Segment / RudderStack: one ${impliedType} message`
            : 'Segment / RudderStack: a batch of messages',
          description:
            'Key: HTTP Basic with the key as user name, Bearer, X-API-Key, or `writeKey` in the ' +
            'body. Answers 200 `{}`; invalid messages are skipped (counted in ' +
            'events_ingest_rejected_total and logged), the valid ones stored.',
          body: SegmentBody,
          response: { 200: SegmentResponse, ...errorResponses },
        },
      },
      async (request, reply) => {
        await ingestSdkBatch(app, request, reply, 'segment', (receivedAtMs) =>
          mapSegment(request.body, { receivedAtMs }, impliedType),
        );
        return {};
      },
    );
  }

  const posthog = async (request: FastifyRequest, reply: FastifyReply) => {
    await ingestSdkBatch(app, request, reply, 'posthog', (receivedAtMs) =>
      mapPosthog(request.body, { receivedAtMs }),
    );
    return { status: 1 as const };
  };
  const amplitude = async (request: FastifyRequest, reply: FastifyReply) => {
    const result = await ingestSdkBatch(app, request, reply, 'amplitude', (receivedAtMs) =>
      mapAmplitude(request.body, { receivedAtMs }),
    );
    return {
      code: 200,
      // What this request stored (duplicates of stored events are not counted), as
      // Amplitude's own API counts.
      events_ingested: result.accepted,
      payload_size_bytes: Number(request.headers['content-length']) || 0,
      server_upload_time: Date.now(),
    };
  };
  const posthogSchema = (url: string) => ({
    tags: ['sdk'],
    operationId: sdkOperationId(url),
    summary: `PostHog capture (${url})`,
    description:
      'Key: `api_key` or `token` in the body (or Bearer / X-API-Key). Answers 200 ' +
      '`{"status":1}`; invalid events are skipped (counted in events_ingest_rejected_total ' +
      'and logged), the valid ones stored. gzip bodies (Content-Encoding, or ' +
      '?compression=gzip-js as posthog-js sends) are accepted.',
    body: PosthogBody,
    response: { 200: PosthogResponse, ...errorResponses },
  });
  // posthog-js flags a gzipped body with ?compression=gzip-js instead of a header.
  const gzipJs = async (request: FastifyRequest) => {
    const { compression } = request.query as { compression?: string };
    if (compression === 'gzip-js' && !request.headers['content-encoding']) {
      request.headers['content-encoding'] = 'gzip';
    }
  };

  // PostHog: posthog-node (/batch/) and posthog-js (/e/, /capture/, /i/v0/e/).
  for (const url of ['/batch/', '/capture', '/capture/', '/e', '/e/', '/i/v0/e', '/i/v0/e/']) {
    app.post(
      url,
      { ...withEnvelope('posthog'), onRequest: gzipJs, schema: posthogSchema(url) },
      posthog,
    );
  }

  // Amplitude reads the outcome from the body's `code`, not the HTTP status, so errors
  // carry `code` too. `/batch` is Amplitude's batch API and PostHog's capture without its
  // trailing slash: the envelope tells them apart (Amplitude's has `events`).
  await app.register(async (scope) => {
    scope.setErrorHandler(
      errorHandler((status, body) => ({ code: status, ...amplitudeDrop(status, body) })),
    );
    const codedErrors = Object.fromEntries(
      Object.keys(errorResponses).map((s) => [s, AmplitudeErrorResponse]),
    );
    scope.post(
      '/2/httpapi',
      {
        ...withEnvelope('amplitude'),
        schema: {
          tags: ['sdk'],
          operationId: sdkOperationId('/2/httpapi'),
          summary: 'Amplitude HTTP API v2',
          description:
            'Key: `api_key` in the body (or Bearer / X-API-Key). Answers 200 `{"code":200,' +
            '"events_ingested":N,...}`; invalid events are skipped, the valid ones stored; ' +
            'errors carry `code` as well, as Amplitude reads it.',
          body: AmplitudeBody,
          response: { 200: AmplitudeResponse, ...codedErrors },
        },
      },
      amplitude,
    );
    scope.post(
      '/batch',
      {
        ...withEnvelope('amplitude-or-posthog'),
        onRequest: gzipJs,
        schema: {
          tags: ['sdk'],
          operationId: sdkOperationId('/batch'),
          summary: 'Amplitude batch API, or PostHog capture without the trailing slash',
          description:
            "An envelope with `events` is Amplitude's (answered like /2/httpapi), anything else " +
            "PostHog's (answered like /batch/). Errors carry `code`.",
          body: Type.Union([AmplitudeBody, PosthogBody]),
          response: { 200: Type.Union([AmplitudeResponse, PosthogResponse]), ...codedErrors },
        },
      },
      async (request, reply) => {
        const body = request.body as { events?: unknown } | null;
        const isAmplitude = typeof body === 'object' && body !== null && Array.isArray(body.events);
        return isAmplitude ? amplitude(request, reply) : posthog(request, reply);
      },
    );
  });
};

export default sdkRoutes;
