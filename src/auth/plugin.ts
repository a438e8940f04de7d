import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from '../errors.js';
import { AddressBudget } from './address-budget.js';
import { KeyCache } from './key-cache.js';
import { type Access, type ApiKey, allows } from './keys.js';

export type AuthMode = 'required' | 'off';

export const DEFAULT_FAILED_LOOKUPS_PER_MINUTE = 60;
/** Keys are 46 characters (`ea_` + 43); anything much longer is not one. */
const MAX_KEY_CHARS = 256;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The key scope a route needs; routes without it are public. */
    access?: Access;
    /**
     * The SDK's key may travel in the body (writeKey, api_key): without a key header the
     * handler checks it with app.auth.requireBodyKey() once it has read the body.
     */
    keyInBody?: boolean;
  }
  interface FastifyInstance {
    auth: {
      /**
       * Authorises with the key found in the body (of `bodyBytes`), unless a header key
       * already did; a body refused for its key is charged to its address.
       */
      requireBodyKey(
        request: FastifyRequest,
        key: string | undefined,
        bodyBytes?: number,
      ): Promise<void>;
    };
  }
  interface FastifyRequest {
    /** The key the request was authorised with (null when AUTH=off or the route is public). */
    apiKey: ApiKey | null;
  }
}

export interface AuthOptions {
  mode: AuthMode;
  /** Look-ups of unknown keys a client address may cause per minute (AUTH_FAILED_LOOKUPS_PER_MINUTE). */
  failedLookupsPerMinute?: number;
  /**
   * Body bytes a client address may send per minute in requests refused for their key
   * (SDK routes read the key from the body): twice MAX_BODY_BYTES by default.
   */
  unauthenticatedBytesPerMinute?: number;
  /** How long a key look-up is trusted: a revoked key stops working within this time. */
  cacheTtlMs?: number;
  /** How often last_used_at is written. */
  usageFlushMs?: number;
}

/**
 * An onRoute hook: every /stats route needs a read key (unless it says otherwise), so a
 * new question is protected without anyone remembering to.
 */
export function statsRoutesNeedReadKey(route: RouteOptions): void {
  if (route.url.startsWith('/stats/') && !route.config?.access) {
    route.config = { ...route.config, access: 'read' };
  }
}

const malformed = (scheme: string) =>
  new ApiError(
    401,
    'unauthorized',
    `the Authorization header is malformed: send "${scheme} <key>" with nothing else`,
  );

/**
 * `Authorization: Bearer <key>`, `Authorization: Basic base64(<key>:)` (Segment) or
 * `X-API-Key`. A Bearer or Basic header that is not exactly one credential (`Bearer KEY
 * junk`, `Bearer` alone) is a 401: a header that cannot be read is never taken in part.
 * Another scheme is not ours and is ignored.
 */
export function keyFromHeaders(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  const apiKey = (Array.isArray(header) ? header[0] : header)?.trim();
  if (apiKey) return apiKey;
  const authorization = request.headers.authorization?.trim() ?? '';
  const [, scheme = '', credentials = ''] = /^(\S*)\s*(.*)$/s.exec(authorization) ?? [];
  if (/^bearer$/i.test(scheme)) {
    if (!/^\S+$/.test(credentials)) throw malformed('Bearer');
    return credentials;
  }
  if (/^basic$/i.test(scheme)) {
    if (!/^[A-Za-z0-9+/_-]+=*$/.test(credentials)) throw malformed('Basic');
    // An empty user name (`Basic Og==`) carries no key: the body may have it.
    return Buffer.from(credentials, 'base64').toString('utf8').split(':')[0] || undefined;
  }
  return undefined;
}

/**
 * API keys (AUTH=required): ingest routes need a `write` key, /stats a `read` key (`all`
 * does both). A missing, unknown or revoked key is a 401, a key of the wrong scope a 403.
 * Keys in headers are checked before the body is read; SDK routes whose key travels in
 * the body (writeKey, api_key) are checked once it is parsed.
 */
export default fp(
  async (app: FastifyInstance, options: AuthOptions) => {
    app.decorateRequest('apiKey', null);
    if (options.mode === 'off') {
      app.decorate('auth', { requireBodyKey: async () => {} });
      return;
    }

    const keys = new KeyCache(app.db, options.cacheTtlMs ?? 5000);
    const flush = () =>
      keys.flushUsage().catch((error: unknown) => {
        app.log.warn({ err: error }, 'could not record API key usage');
      });
    const timer = setInterval(flush, options.usageFlushMs ?? 10_000);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await flush();
    });

    // What unauthenticated clients can make the service do is bounded per address (issue
    // 19): database look-ups of keys that do not exist, and body bytes read (and scanned)
    // only to find no valid key in them.
    const failedLookups = new AddressBudget({
      perMinute: options.failedLookupsPerMinute ?? DEFAULT_FAILED_LOOKUPS_PER_MINUTE,
      what: 'look-ups of unknown API keys',
    });
    const unauthenticatedBytes = new AddressBudget({
      perMinute: options.unauthenticatedBytesPerMinute ?? 20 * 1024 * 1024,
      what: 'bytes of request bodies without a valid API key',
    });

    async function authorize(request: FastifyRequest, access: Access, key: string): Promise<void> {
      // No key is that long; hashing or looking one up would be work for nothing.
      const { key: found, queried } =
        key.length > MAX_KEY_CHARS
          ? { key: undefined, queried: false }
          : await keys.lookup(key, () => failedLookups.reserve(request.ip));
      if (found && queried) failedLookups.refund(request.ip);
      if (!found) {
        throw new ApiError(401, 'unauthorized', 'the API key is not valid (unknown or revoked)');
      }
      if (!allows(found.scope, access)) {
        throw new ApiError(
          403,
          'forbidden',
          `the API key "${found.name}" has scope ${found.scope}; this endpoint needs a ${access} key`,
        );
      }
      request.apiKey = found;
    }

    const missing = (access: Access) =>
      new ApiError(
        401,
        'unauthorized',
        `an API key with ${access} scope is required: send Authorization: Bearer <key> or X-API-Key`,
      );

    app.addHook('onRequest', async (request, reply) => {
      const { access, keyInBody } = request.routeOptions.config;
      if (!access) return;
      const key = keyFromHeaders(request);
      if (key) await authorize(request, access, key);
      else if (!keyInBody) throw missing(access);
      else {
        // The key is in the body: an address that keeps sending bodies without a valid
        // one is refused before its next body is read (and the connection closed, so
        // that body is not read either).
        try {
          unauthenticatedBytes.check(request.ip);
        } catch (error) {
          reply.header('connection', 'close');
          throw error;
        }
      }
    });

    app.decorate('auth', {
      async requireBodyKey(request: FastifyRequest, key: string | undefined, bodyBytes = 0) {
        const access = request.routeOptions.config.access;
        if (!access || request.apiKey) return;
        try {
          if (!key) throw missing(access);
          await authorize(request, access, key);
        } catch (error) {
          if (error instanceof ApiError && error.statusCode === 401) {
            unauthenticatedBytes.charge(request.ip, bodyBytes);
          }
          throw error;
        }
      },
    });
  },
  { name: 'auth', dependencies: ['db'] },
);
