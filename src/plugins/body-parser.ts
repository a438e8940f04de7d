import compress from '@fastify/compress';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from '../errors.js';
import { parseJsonExactly } from '../ingest/json-body.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The declared charset, if any: `application/json; charset=iso-8859-1` -> `iso-8859-1`. */
function declaredCharset(contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return match?.[1]?.toLowerCase();
}

/**
 * Request bodies are JSON in UTF-8, taken exactly as sent: a body in another charset, or
 * with bytes that are not UTF-8, is refused rather than decoded with replacement
 * characters (which would merge different ids into one); numbers keep their precision.
 */
export function parseJsonBody(
  request: FastifyRequest,
  body: Buffer,
  done: (error: Error | null, body?: unknown) => void,
): void {
  const charset = declaredCharset(request.headers['content-type']);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    done(
      new ApiError(
        415,
        'unsupported_media_type',
        `charset ${charset} is not supported: send the body as UTF-8`,
      ),
    );
    return;
  }
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    done(new ApiError(400, 'invalid_json', 'request body is not valid UTF-8'));
    return;
  }
  if (text.trim() === '') {
    done(new ApiError(400, 'invalid_json', 'request body is empty'));
    return;
  }
  try {
    done(null, parseJsonExactly(text));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    done(new ApiError(400, 'invalid_json', `request body is not valid JSON: ${reason}`));
  }
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
    app.removeContentTypeParser(['application/json', 'text/plain']);
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJsonBody);
  },
  { name: 'body-parser' },
);
