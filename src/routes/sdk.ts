import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { amplitudeAdapter, posthogAdapter, segmentAdapter } from '../ingest/sdk/adapters.js';
import {
  type EnvelopeKind,
  type EnvelopeOutline,
  outlineEnvelope,
  parseEnvelope,
} from '../ingest/sdk/envelope.js';
import { SEGMENT_TYPES } from '../ingest/sdk/segment.js';
import type { IngestSource } from '../ingest/sources.js';
import type { Adapter } from '../ingest/steps/adapt.js';
import { checkCharset, decodeJsonText, parseJsonText } from '../plugins/body-parser.js';
import { errorHandler } from '../plugins/errors.js';
import type { Project } from '../projects/repository.js';
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
 * Budgets of an SDK body's JSON, checked from its outline before it is parsed: what
 * JSON.parse costs grows with the values it builds (~1 µs per empty object, so 10 MB of
 * `{},` took 3.4 s and 750 MB), so these bound the parse of one request to ~100 ms
 * whatever its shape. A 5000-message batch of what the SDKs send uses a tenth of them.
 */
export const MAX_BODY_CONTAINERS = 200_000;
export const MAX_BODY_SEPARATORS = 1_000_000;

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

const sdkRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { pipeline } = app.ingest;
  /** The project of each request admitted (steps 1-2 of the pipeline ran in its parser). */
  const admitted = new WeakMap<FastifyRequest, Project>();

  /**
   * Stores an admitted SDK request's messages through the pipeline (steps 3-5): invalid
   * messages are skipped (counted and logged) so that one bad message does not cost the
   * client the batch (these SDKs drop a batch answered with 400).
   */
  const ingest = (
    request: FastifyRequest,
    reply: FastifyReply,
    source: IngestSource,
    adapter: Adapter,
  ) =>
    pipeline.run(request, {
      source,
      adapter,
      body: request.body,
      receivedAtMs: Date.now() - reply.elapsedTime,
      invalid: 'message',
      admitted: admitted.get(request),
    });

  /**
   * Everything a request must pass before its body is parsed, from the body's outline
   * (one pass over its text, src/ingest/sdk/envelope.ts): the key (a header key was
   * checked before the body was read; else the one in the body), then the pipeline's
   * steps 1-2 (the project, the batch limit (413) and the rate limit (429)), and the JSON
   * budgets (413). A request refused here costs no parse and no work per message,
   * whatever its size.
   */
  async function admitBody(request: FastifyRequest, body: Uint8Array): Promise<EnvelopeOutline> {
    const kind = request.routeOptions.config.sdkEnvelope ?? 'posthog';
    const outline = outlineEnvelope(body, kind);
    await app.auth.requireBodyKey(request, outline.key, body.length);
    admitted.set(request, await pipeline.admit(request, outline.family, outline.count));
    if (outline.containers > MAX_BODY_CONTAINERS || outline.separators > MAX_BODY_SEPARATORS) {
      pipeline.reject(outline.family, 'batch_too_large', outline.count);
      throw new ApiError(
        413,
        'payload_too_large',
        `the body holds more than ${MAX_BODY_CONTAINERS} JSON objects and arrays or ${MAX_BODY_SEPARATORS} values: send smaller batches`,
      );
    }
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
        await ingest(request, reply, 'segment', segmentAdapter(impliedType));
        return {};
      },
    );
  }

  const posthog = async (request: FastifyRequest, reply: FastifyReply) => {
    await ingest(request, reply, 'posthog', posthogAdapter);
    return { status: 1 as const };
  };
  const amplitude = async (request: FastifyRequest, reply: FastifyReply) => {
    const result = await ingest(request, reply, 'amplitude', amplitudeAdapter);
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
