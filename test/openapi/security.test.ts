import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCOPES, type Scope } from '../../src/auth/keys.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { newKey } from '../helpers/ingest-requests.js';

/**
 * What the OpenAPI document says about authentication, checked against what the server
 * does (AUTH=required), for EVERY operation the document lists: expectations come from the
 * document (security requirements, x-api-key-scopes, x-api-key-in-body, documented
 * responses), never from a list kept in this test, so a new route or scope is covered.
 */

type Json = Record<string, unknown>;
type Requirement = Record<string, string[]>;

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
type Method = (typeof METHODS)[number];

interface Operation {
  id: string;
  method: Method;
  /** The path with each parameter replaced by its example. */
  url: string;
  security: Requirement[];
  responses: Record<string, Json>;
  /** Required query parameters, from their examples. */
  query: Record<string, string>;
  /** A request body built from the document's examples, with no key in it. */
  body: Json | undefined;
  bodyKeyFields: string[];
}

let database: TestDatabase;
let app: FastifyInstance;
let doc: Json;
let operations: Operation[];
let keys: Record<Scope, string>;

function component(schema: Json): Json {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  const schemas = (doc.components as { schemas: Record<string, Json> }).schemas;
  const found = schemas[ref.replace('#/components/schemas/', '')];
  if (!found) throw new Error(`unresolved ${ref}`);
  return found;
}

/** The first example of a body schema (for a union, of its first member that has one). */
function exampleOf(schema: Json): Json | undefined {
  const resolved = component(schema);
  const examples = resolved.examples as Json[] | undefined;
  if (examples?.[0]) return structuredClone(examples[0]);
  for (const member of (resolved.anyOf as Json[] | undefined) ?? []) {
    const example = exampleOf(member);
    if (example) return example;
  }
  return undefined;
}

function operationsOf(document: Json): Operation[] {
  const found: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths as Record<string, Json>)) {
    for (const [method, value] of Object.entries(item)) {
      if (!(METHODS as readonly string[]).includes(method)) {
        throw new Error(`${method} ${path}: this test does not send ${method}; extend it`);
      }
      const op = value as Json;
      const parameters = (op.parameters as Json[] | undefined) ?? [];
      const url = path.replace(/\{([^}]+)\}/g, (_match, name: string) => {
        const parameter = parameters.find((p) => p.in === 'path' && p.name === name);
        return encodeURIComponent(String(parameter?.example ?? 'example'));
      });
      const query = Object.fromEntries(
        parameters
          .filter((p) => p.in === 'query' && p.required)
          .map((p) => [p.name as string, String(p.example)]),
      );
      const bodySchema = (op.requestBody as { content?: Record<string, { schema: Json }> })
        ?.content?.['application/json']?.schema;
      const bodyKeyFields = (op['x-api-key-in-body'] as { fields: string[] } | undefined)?.fields;
      const body = bodySchema ? exampleOf(bodySchema) : undefined;
      // The examples show where a key goes (`"api_key": "<write key>"`): take it out.
      for (const field of bodyKeyFields ?? []) if (body) delete body[field];
      found.push({
        id: op.operationId as string,
        method: method as Method,
        url,
        security: op.security as Requirement[],
        responses: op.responses as Record<string, Json>,
        query,
        body,
        bodyKeyFields: bodyKeyFields ?? [],
      });
    }
  }
  return found;
}

/** How each security scheme of the document carries a key. */
function keyHeaders(scheme: string, key: string): Record<string, string> {
  const definition = (doc.components as { securitySchemes: Record<string, Json> }).securitySchemes[
    scheme
  ];
  if (definition?.type === 'http' && definition.scheme === 'bearer') {
    return { authorization: `Bearer ${key}` };
  }
  if (definition?.type === 'http' && definition.scheme === 'basic') {
    return { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` };
  }
  if (definition?.type === 'apiKey' && definition.in === 'header') {
    return { [definition.name as string]: key };
  }
  throw new Error(`security scheme ${scheme}: ${JSON.stringify(definition)}`);
}

function send(
  op: Operation,
  headers: Record<string, string> = {},
  body: Json | undefined = op.body,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: op.method.toUpperCase() as 'GET',
    url: op.url,
    query: op.query,
    headers,
    ...(body ? { payload: body } : {}),
  });
}

const isPublic = (op: Operation) =>
  op.security.length === 0 || op.security.some((r) => Object.keys(r).length === 0);

/** The roles an operation needs: the same in each of its requirements. */
function rolesOf(op: Operation): string[] {
  const roles = new Set(op.security.map((r) => JSON.stringify(Object.values(r)[0] ?? [])));
  expect(roles.size, `${op.id}: requirements name different roles`).toBe(1);
  return op.security[0] ? (Object.values(op.security[0])[0] ?? []) : [];
}

/** Does a key of this scope hold every role? The document says (x-api-key-scopes). */
function satisfies(scope: Scope, roles: string[]): boolean {
  const held = (doc['x-api-key-scopes'] as Record<string, string[]>)[scope] ?? [];
  return roles.every((role) => held.includes(role));
}

/** `status` must be one the operation documents, with the error shape and this code. */
function documentedError(
  op: Operation,
  res: LightMyRequestResponse,
  status: 401 | 403,
  how: string,
): string[] {
  const problems: string[] = [];
  if (res.statusCode !== status) {
    problems.push(
      `${op.id} ${how}: ${res.statusCode} ${res.body.slice(0, 120)}, expected ${status}`,
    );
    return problems;
  }
  if (!op.responses[String(status)]) problems.push(`${op.id}: ${status} is not documented`);
  const error = (res.json() as { error?: unknown }).error;
  const expected = status === 401 ? 'unauthorized' : 'forbidden';
  if (error !== expected) problems.push(`${op.id} ${how}: error ${String(error)}`);
  return problems;
}

/**
 * A key that holds the roles gets past authentication: no 401 or 403. (Not necessarily a
 * 2xx: an operation without examples for its parameters may answer 404 or 422.)
 */
function allowed(op: Operation, res: LightMyRequestResponse, how: string): string[] {
  return res.statusCode === 401 || res.statusCode === 403
    ? [`${op.id} ${how}: ${res.statusCode} ${res.body.slice(0, 120)}`]
    : [];
}

beforeAll(async () => {
  database = await createTestDatabase();
  keys = Object.fromEntries(
    await Promise.all(
      SCOPES.map(async (scope) => [scope, await newKey(database.db, `openapi-${scope}`, scope)]),
    ),
  ) as Record<Scope, string>;
  // No rate limit: hundreds of requests from the same keys in a moment.
  ({ app } = await buildTestApp(database, { auth: 'required', rateLimitEventsPerSecond: 0 }));
  doc = (await app.inject('/docs/json')).json();
  operations = operationsOf(doc);
});
afterAll(async () => {
  await app?.close();
  await database?.close();
});

describe('the OpenAPI document says what the server enforces (AUTH=required)', () => {
  it('lists every operation with its security and a table of what each key scope holds', () => {
    expect(operations.length).toBeGreaterThan(30);
    for (const op of operations) expect(Array.isArray(op.security), op.id).toBe(true);
    // Every scope a key can have, and nothing else.
    expect(Object.keys(doc['x-api-key-scopes'] as Json).sort()).toEqual([...SCOPES].sort());
    // Every role an operation needs is held by some scope.
    const roles = operations.filter((op) => !isPublic(op)).flatMap(rolesOf);
    for (const role of roles) {
      expect(
        SCOPES.some((scope) => satisfies(scope, [role])),
        role,
      ).toBe(true);
    }
  });

  it('public operations answer without a key', async () => {
    const problems: string[] = [];
    for (const op of operations.filter(isPublic)) {
      const res = await send(op);
      if (res.statusCode === 401 || res.statusCode === 403) {
        problems.push(`${op.id}: ${res.statusCode} without a key`);
      }
    }
    expect(problems).toEqual([]);
    expect(operations.filter(isPublic).map((op) => op.id)).toEqual(
      expect.arrayContaining(['getHealth', 'getMetrics']),
    );
  });

  it('without a key: the documented 401', async () => {
    const problems: string[] = [];
    for (const op of operations.filter((o) => !isPublic(o))) {
      problems.push(...documentedError(op, await send(op), 401, 'without a key'));
    }
    expect(problems).toEqual([]);
  });

  it('with a key in each documented scheme: 403 unless its scope holds the roles', async () => {
    const problems: string[] = [];
    for (const op of operations.filter((o) => !isPublic(o))) {
      const roles = rolesOf(op);
      for (const requirement of op.security) {
        const scheme = Object.keys(requirement)[0] ?? '';
        for (const scope of SCOPES) {
          const res = await send(op, keyHeaders(scheme, keys[scope]));
          const how = `with a ${scope} key (${scheme})`;
          problems.push(
            ...(satisfies(scope, roles)
              ? allowed(op, res, how)
              : documentedError(op, res, 403, how)),
          );
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('with the key in the body, where the document says the SDK puts it: the same', async () => {
    const problems: string[] = [];
    const bodyKeyed = operations.filter((op) => op.bodyKeyFields.length > 0);
    expect(bodyKeyed.length).toBeGreaterThan(0);
    for (const op of bodyKeyed) {
      const roles = rolesOf(op);
      for (const field of op.bodyKeyFields.filter((f) => !f.includes('.'))) {
        for (const scope of SCOPES) {
          const res = await send(op, {}, { ...op.body, [field]: keys[scope] });
          const how = `with a ${scope} key in the body's ${field}`;
          problems.push(
            ...(satisfies(scope, roles)
              ? allowed(op, res, how)
              : documentedError(op, res, 403, how)),
          );
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('an unknown key is a 401 in every scheme', async () => {
    const problems: string[] = [];
    for (const op of operations.filter((o) => !isPublic(o))) {
      for (const requirement of op.security) {
        const scheme = Object.keys(requirement)[0] ?? '';
        const res = await send(op, keyHeaders(scheme, 'ea_not-a-key'));
        problems.push(...documentedError(op, res, 401, `with an unknown key (${scheme})`));
      }
    }
    expect(problems).toEqual([]);
  });
});
