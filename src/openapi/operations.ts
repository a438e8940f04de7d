import type { FastifyContextConfig, FastifySchema } from 'fastify';
import type { Access } from '../auth/keys.js';
import { BODY_KEY_FIELDS } from '../schemas/sdk.js';
import { withRefs } from './components.js';
import { keyRequirements, type SecurityRequirement } from './security.js';

/** What an error status means on any operation (the response's description). */
const ERROR_DESCRIPTIONS: Record<string, string> = {
  400: 'Malformed request: the body is not valid JSON, or not the envelope this endpoint takes',
  401: 'No API key, or one that is unknown or revoked',
  403: "The API key's scope does not allow this operation",
  413: 'The body is larger than MAX_BODY_BYTES, or holds more events than MAX_BATCH_EVENTS',
  415: 'A Content-Type or Content-Encoding this endpoint does not take',
  422: 'Invalid input; `details` names each problem',
  429: "Over the API key's rate limit; retry after `Retry-After` seconds",
  503: 'The database is unavailable, or the query took longer than STATEMENT_TIMEOUT_MS; retry later',
  '4XX':
    'Another client error, answered before the request reaches this operation: a malformed ' +
    'HTTP request (400), a request that did not arrive in time (408), headers too large (431)',
  '5XX': 'Server error (500 internal_error); the details are in the server log only',
};

const ERROR_RESPONSE = { $ref: 'ErrorResponse#' };

/** The route's settings the document is derived from (src/auth/plugin.ts). */
type RouteAccess = Pick<FastifyContextConfig, 'access' | 'keyInBody'>;

type RouteSchema = FastifySchema & {
  description?: string;
  security?: readonly SecurityRequirement[];
};

/**
 * Where the key may travel in a body of this schema. A union (POST /batch: Amplitude's or
 * PostHog's envelope) takes the fields all its members take, the ones that work whichever
 * envelope the client sends.
 */
function bodyKeyFields(body: unknown): string[] {
  if (typeof body !== 'object' || body === null) return [];
  const fields = BODY_KEY_FIELDS.get(body);
  if (fields) return [...fields];
  const members = ((body as { anyOf?: unknown[] }).anyOf ?? []).map(bodyKeyFields);
  const [first = [], ...others] = members;
  return first.filter((field) => others.every((fields) => fields.includes(field)));
}

/** A querystring parameter with a default is optional to the client (Ajv fills it in). */
function optionalWhenDefaulted(querystring: unknown): unknown {
  const query = querystring as {
    properties?: Record<string, { default?: unknown }>;
    required?: string[];
  };
  if (!query?.properties || !query.required) return querystring;
  const required = query.required.filter((name) => query.properties?.[name]?.default === undefined);
  return { ...query, required };
}

/**
 * The error and success responses of the document: named schemas as references, each error
 * status with its meaning, 401 and 403 on every operation that needs a key, and the 4XX and
 * 5XX that any request can get (with the error shape) where the route names none.
 */
function documentedResponses(
  response: Record<string, unknown>,
  needsKey: boolean,
): Record<string, unknown> {
  const responses: Record<string, unknown> = { ...response };
  if (needsKey) {
    responses[401] ??= ERROR_RESPONSE;
    responses[403] ??= ERROR_RESPONSE;
  }
  responses['4XX'] ??= ERROR_RESPONSE;
  responses['5XX'] ??= ERROR_RESPONSE;
  return Object.fromEntries(
    Object.entries(responses).map(([status, schema]) => {
      const documented = withRefs(schema) as Record<string, unknown>;
      const description = ERROR_DESCRIPTIONS[status];
      if (description === undefined || !('$ref' in documented)) return [status, documented];
      const headers =
        status === '429'
          ? {
              'Retry-After': {
                type: 'integer',
                description: 'Seconds until the key may send again',
              },
            }
          : undefined;
      return [status, { ...documented, description, ...(headers ? { headers } : {}) }];
    }),
  );
}

/**
 * One route's schema as the document shows it (@fastify/swagger's `transform`). The
 * security of the operation comes from the route's `config.access`, the same setting the
 * auth plugin enforces, so the document cannot say otherwise than the server does; a
 * route without it is public (`security: []`) unless its schema names its own (GET
 * /metrics' optional METRICS_TOKEN). The route's schema itself is left as it is: it
 * validates and serializes requests.
 */
export function documentOperation(
  url: string,
  schema: RouteSchema,
  config: RouteAccess,
  roles: Set<Access>,
): FastifySchema {
  const { access, keyInBody } = config;
  if (access && schema.security) {
    throw new Error(`${url}: its security comes from config.access; remove schema.security`);
  }
  const documented: Record<string, unknown> = {
    ...(withRefs(schema) as Record<string, unknown>),
    security: access ? keyRequirements(access) : (schema.security ?? []),
    response: documentedResponses(
      (schema.response ?? {}) as Record<string, unknown>,
      access !== undefined,
    ),
  };
  if (schema.querystring) documented.querystring = optionalWhenDefaulted(documented.querystring);
  if (access) roles.add(access);
  if (access && keyInBody) {
    const fields = bodyKeyFields(schema.body);
    if (fields.length === 0) {
      throw new Error(`${url} takes its key in the body, but BODY_KEY_FIELDS does not say where`);
    }
    const named = fields.map((field) => `\`${field}\``).join(', ');
    documented.description =
      `${schema.description ?? ''}\n\nThe API key may also travel in the body (${named}), as ` +
      'the SDK sends it; OpenAPI has no security scheme for a body field, hence ' +
      '`x-api-key-in-body`. A key in a header is checked first, before the body is read.';
    documented['x-api-key-in-body'] = { fields, roles: [access] };
  }
  return documented;
}
