import { createHash, randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';

export const SCOPES = ['write', 'read', 'all'] as const;
export type Scope = (typeof SCOPES)[number];
/** What a route needs: `write` for ingest, `read` for /stats. */
export type Access = 'write' | 'read';

export interface ApiKey {
  name: string;
  scope: Scope;
}

export interface ApiKeyInfo extends ApiKey {
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

export function allows(scope: Scope, access: Access): boolean {
  return scope === 'all' || scope === access;
}

/** Stores a new key (its hash only) and returns the key, which is never shown again. */
export async function createKey(db: Kysely<Database>, name: string, scope: Scope): Promise<string> {
  const key = generateKey();
  await sql`INSERT INTO api_keys (name, key_hash, scope) VALUES (${name}, ${hashKey(key)}, ${scope})`.execute(
    db,
  );
  return key;
}

export async function listKeys(db: Kysely<Database>): Promise<ApiKeyInfo[]> {
  const { rows } = await sql<ApiKeyInfo>`
    SELECT name, scope, created_at::text, last_used_at::text, revoked_at::text
    FROM api_keys ORDER BY created_at, name`.execute(db);
  return rows;
}

/** Returns false when there is no such key (or it was revoked before). */
export async function revokeKey(db: Kysely<Database>, name: string): Promise<boolean> {
  const { numAffectedRows } = await sql`
    UPDATE api_keys SET revoked_at = now() WHERE name = ${name} AND revoked_at IS NULL`.execute(db);
  return (numAffectedRows ?? 0n) > 0n;
}

/** The live (not revoked) key with this hash, if any. */
export async function findKey(db: Kysely<Database>, hash: Buffer): Promise<ApiKey | undefined> {
  const { rows } = await sql<ApiKey>`
    SELECT name, scope FROM api_keys WHERE key_hash = ${hash} AND revoked_at IS NULL`.execute(db);
  return rows[0];
}

export async function markUsed(db: Kysely<Database>, names: string[]): Promise<void> {
  if (names.length === 0) return;
  await sql`UPDATE api_keys SET last_used_at = now() WHERE name = ANY (${names}::text[])`.execute(
    db,
  );
}
