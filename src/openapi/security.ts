import { type Access, allows, SCOPES, type Scope } from '../auth/keys.js';

/**
 * The ways a request may carry an API key (src/auth/plugin.ts keyFromHeaders), one
 * security scheme each. Every operation that needs a key lists all of them: the server
 * takes any of them on any route.
 */
export const KEY_SCHEMES = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API key (`npm run keys -- create NAME --scope ...`): `Authorization: Bearer <key>`.',
  },
  apiKeyHeader: {
    type: 'apiKey',
    in: 'header',
    name: 'X-API-Key',
    description: 'An API key in the `X-API-Key` header (checked before `Authorization`).',
  },
  basicAuth: {
    type: 'http',
    scheme: 'basic',
    description:
      'HTTP Basic with the API key as the user name and any (usually empty) password, as ' +
      'the Segment and RudderStack SDKs send their write key.',
  },
} as const;

export type KeySchemeName = keyof typeof KEY_SCHEMES;

/** GET /metrics: public unless the server sets METRICS_TOKEN. Not an API key. */
export const METRICS_SCHEME = {
  metricsToken: {
    type: 'http',
    scheme: 'bearer',
    description:
      'Only when the server sets METRICS_TOKEN: `Authorization: Bearer <METRICS_TOKEN>` on ' +
      'GET /metrics. Without METRICS_TOKEN, /metrics is public.',
  },
} as const;

/** A Security Requirement Object: scheme name -> the roles (key scopes) it needs. */
export type SecurityRequirement = Readonly<Record<string, readonly string[]>>;

/**
 * An operation that needs `access` may be called with a key in any of the header schemes,
 * each naming `access` as the role it needs (OpenAPI 3.1 lets a non-OAuth requirement list
 * role names).
 */
export function keyRequirements(access: Access): SecurityRequirement[] {
  return Object.keys(KEY_SCHEMES).map((scheme) => ({ [scheme]: [access] }));
}

/**
 * Which of the roles operations ask for a key of each scope holds (`allows`, the server's
 * own rule), for the document's `x-api-key-scopes`: with it a client (and our test) can
 * tell which keys an operation takes, e.g. that an `all` key holds `read` and `write`.
 */
export function scopeRoles(roles: Iterable<Access>): Record<Scope, Access[]> {
  const asked = [...new Set(roles)].sort();
  return Object.fromEntries(
    SCOPES.map((scope) => [scope, asked.filter((role) => allows(scope, role))]),
  ) as Record<Scope, Access[]>;
}
