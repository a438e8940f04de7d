import type { Access } from '../auth/keys.js';
import { scopeRoles } from './security.js';

type Json = unknown;

function isRecord(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `anyOf` of single-value members of one type (TypeBox's union of literals, which
 * @fastify/swagger writes as `anyOf: [{type: string, enum: [day]}, ...]`) as one `enum`,
 * which every client generator turns into an enum type.
 */
function asEnum(schema: Record<string, Json>): Record<string, Json> {
  const members = schema.anyOf;
  if (!Array.isArray(members) || members.length < 2) return schema;
  const single = members.every(
    (m) =>
      isRecord(m) &&
      Object.keys(m).sort().join() === 'enum,type' &&
      Array.isArray(m.enum) &&
      m.enum.length === 1 &&
      m.type === (members[0] as Record<string, Json>).type,
  );
  if (!single) return schema;
  const { anyOf: _members, ...rest } = schema;
  return {
    type: (members[0] as Record<string, Json>).type,
    enum: members.map((m) => (m as { enum: Json[] }).enum[0]),
    ...rest,
  };
}

function tidy(value: Json): Json {
  if (Array.isArray(value)) return value.map(tidy);
  if (!isRecord(value)) return value;
  return asEnum(Object.fromEntries(Object.entries(value).map(([key, item]) => [key, tidy(item)])));
}

/**
 * The last touches on the whole document (@fastify/swagger's `transformObject`): unions of
 * literals as enums, and `x-api-key-scopes`: for each key scope, the roles (the names the
 * operations' security requirements list) a key of that scope holds.
 */
export function finishDocument<T extends object>(document: T, roles: Iterable<Access>): T {
  return { ...(tidy(document) as T), 'x-api-key-scopes': scopeRoles(roles) };
}
