import compress from '@fastify/compress';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError, validationError } from '../errors.js';
import { parseJsonExactly, TooDeepError } from '../ingest/json-body.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The declared charset, if any: `application/json; charset=iso-8859-1` -> `iso-8859-1`. */
function declaredCharset(contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return match?.[1]?.toLowerCase();
}

/** A 415 for a body declared in a charset other than UTF-8. */
export function checkCharset(request: FastifyRequest): void {
  const charset = declaredCharset(request.headers['content-type']);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new ApiError(
      415,
      'unsupported_media_type',
      `charset ${charset} is not supported: send the body as UTF-8`,
    );
  }
}

/**
 * The text of a JSON request body: UTF-8 only, taken exactly as sent. A body in another
 * charset, or with bytes that are not UTF-8, is refused (415, 400) rather than decoded with
 * replacement characters (which would merge different ids into one).
 */
export function decodeJsonText(request: FastifyRequest, body: Buffer): string {
  checkCharset(request);
  try {
    return utf8.decode(body);
  } catch {
    throw new ApiError(400, 'invalid_json', 'request body is not valid UTF-8');
  }
}

/**
 * Parses JSON text as parseJsonExactly() does (numbers keep their precision), with the
 * API's errors: 400 for an empty body or invalid JSON, 422 for a body too deep to parse
 * exactly.
 */
export function parseJsonText(text: string, parse: (text: string) => unknown = parseJsonExactly) {
  if (text.trim() === '') throw new ApiError(400, 'invalid_json', 'request body is empty');
  try {
    return parse(text);
  } catch (error) {
    if (error instanceof TooDeepError) {
      throw validationError(error.message, [{ field: 'body', message: error.message }]);
    }
    if (error instanceof ApiError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new ApiError(400, 'invalid_json', `request body is not valid JSON: ${reason}`);
  }
}

/** Request bodies are JSON in UTF-8 (decodeJsonText), parsed exactly (parseJsonText). */
export function parseJsonBody(
  request: FastifyRequest,
  body: Buffer,
  done: (error: Error | null, body?: unknown) => void,
): void {
  let parsed: unknown;
  try {
    parsed = parseJsonText(decodeJsonText(request, body));
  } catch (error) {
    done(error as Error);
    return;
  }
  done(null, parsed);
}

/**
 * Body handling for every route: `Content-Encoding: gzip` or `deflate` bodies are
 * decompressed (@fastify/compress) before parsing, and the body limit applies to the
 * decompressed size too, so a zip bomb is a 413; any other encoding is a 415. Responses
 * are not compressed (they are small).
 */
export default fp(
  async (app: FastifyInstance) => {
    await app.register(compress, {
      globalCompression: false,
      globalDecompression: true,
      requestEncodings: ['gzip', 'deflate', 'identity'],
      onUnsupportedRequestEncoding: (encoding) =>
        new ApiError(
          415,
          'unsupported_media_type',
          `Content-Encoding ${encoding} is not supported: send gzip, deflate or no encoding`,
        ),
      // Its fields are copied onto the zlib error, so a plain object carries the message.
      onInvalidRequestPayload: (encoding) =>
        Object.assign(
          { name: 'InvalidRequestPayload', message: `request body is not valid ${encoding} data` },
          { statusCode: 400 },
        ),
    });
    // Content codings are case-insensitive and x-gzip is gzip (RFC 9110 8.4.1); the
    // decompressor compares the header as is.
    app.addHook('onRequest', async (request) => {
      const encoding = request.headers['content-encoding']?.trim().toLowerCase();
      if (encoding !== undefined) {
        request.headers['content-encoding'] = encoding === 'x-gzip' ? 'gzip' : encoding;
      }
    });
    app.removeContentTypeParser(['application/json', 'text/plain']);
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJsonBody);
  },
  { name: 'body-parser' },
);
