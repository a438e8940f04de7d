import { createHash, randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';

/** What a key may do: `write` ingests, `read` reads, `all` both, `admin` manages. */
export const SCOPES = ['write', 'read', 'all', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * What a route needs: `write` for ingest, `read` for /stats and look-ups, `admin` for
 * projects and keys, `erase` for deleting a user's data, `any` for a valid key of any
 * scope (listing the projects a key reaches).
 */
export type Access = 'write' | 'read' | 'admin' | 'erase' | 'any';

const GRANTS: Record<Scope, readonly Access[]> = {
  write: ['write', 'any'],
  read: ['read', 'any'],
  all: ['write', 'read', 'erase', 'any'],
  admin: ['admin', 'erase', 'any'],
};

export function allows(scope: Scope, access: Access): boolean {
  return GRANTS[scope].includes(access);
}

/** The scopes whose keys may use a route that needs `access`. */
export function scopesFor(access: Access): Scope[] {
  return SCOPES.filter((scope) => allows(scope, access));
}

export interface ApiKey {
  id: number;
  name: string;
  scope: Scope;
  projectId: number;
}

export interface ApiKeyInfo {
  id: number;
  name: string;
  scope: Scope;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

const KEY_PREFIX = 'ea_';

/** 256 random bits, URL-safe, with a prefix that makes a leaked key easy to recognise. */
export function generateKey(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/**
 * Stores a new key of a project (its hash only) and returns it with the key, which is
 * never shown again. Undefined when the project has a key of that name already.
 */
export async function createKey(
  db: Kysely<Database>,
  projectId: number,
  name: string,
  scope: Scope,
): Promise<{ id: number; key: string } | undefined> {
  const key = generateKey();
  const { rows } = await sql<{ key_id: number }>`
    INSERT INTO api_keys (project_id, name, key_hash, scope)
    VALUES (${projectId}, ${name}, ${hashKey(key)}, ${scope})
    ON CONFLICT (project_id, name) DO NOTHING
    RETURNING key_id`.execute(db);
  const id = rows[0]?.key_id;
  return id === undefined ? undefined : { id, key };
}

const timestamp = (column: string) =>
  sql.raw(`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);

export async function listKeys(db: Kysely<Database>, projectId: number): Promise<ApiKeyInfo[]> {
  const { rows } = await sql<ApiKeyInfo>`
    SELECT key_id AS id, name, scope, ${timestamp('created_at')} AS created_at,
           ${timestamp('last_used_at')} AS last_used_at, ${timestamp('revoked_at')} AS revoked_at
    FROM api_keys WHERE project_id = ${projectId} ORDER BY created_at, key_id`.execute(db);
  return rows;
}

/** Revokes a project's key by name or id; false when there is no such live key. */
export async function revokeKey(
  db: Kysely<Database>,
  projectId: number,
  which: { name: string } | { id: number },
): Promise<boolean> {
  const match = 'name' in which ? sql`name = ${which.name}` : sql`key_id = ${which.id}`;
  const { numAffectedRows } = await sql`
    UPDATE api_keys SET revoked_at = now()
    WHERE project_id = ${projectId} AND ${match} AND revoked_at IS NULL`.execute(db);
  return (numAffectedRows ?? 0n) > 0n;
}

/** The live (not revoked) key with this hash, if any. */
export async function findKey(db: Kysely<Database>, hash: Buffer): Promise<ApiKey | undefined> {
  const { rows } = await sql<ApiKey>`
    SELECT key_id AS id, name, scope, project_id AS "projectId" FROM api_keys
    WHERE key_hash = ${hash} AND revoked_at IS NULL`.execute(db);
  return rows[0];
}

export async function markUsed(db: Kysely<Database>, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`UPDATE api_keys SET last_used_at = now() WHERE key_id = ANY (${ids}::int[])`.execute(
    db,
  );
}
