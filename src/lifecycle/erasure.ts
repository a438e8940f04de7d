import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';

/** One erased user: the raw events of theirs that were deleted. */
export interface ErasedUser {
  user_id: string;
  deleted_events: number;
}

/**
 * Users erased per call of analytics.erase_users by `eraseUsersInBatches`: each call is one
 * transaction holding these users' row locks, so a long list (a file of ids) is cut into
 * transactions of a bounded size that never hold ingest back for long.
 */
export const ERASE_BATCH_USERS = 500;

/**
 * Erases users of a project (analytics.erase_users, docs/lifecycle.md): every raw event of
 * theirs is deleted and every summary corrected exactly, in every zone, in one transaction.
 * Answers the users that existed, by user_id; unknown ids are left out.
 */
export async function eraseUsers(
  db: Kysely<Database>,
  projectId: number,
  userIds: string[],
): Promise<ErasedUser[]> {
  if (userIds.length === 0) return [];
  const { rows } = await sql<{ user_id: string; deleted_events: string }>`
    SELECT user_id, deleted_events FROM analytics.erase_users(${projectId}::int, ${userIds}::text[])`.execute(
    db,
  );
  return rows.map((r) => ({ user_id: r.user_id, deleted_events: Number(r.deleted_events) }));
}

/** The same for any number of users, ERASE_BATCH_USERS per transaction; `done` after each. */
export async function eraseUsersInBatches(
  db: Kysely<Database>,
  projectId: number,
  userIds: string[],
  done: (erased: ErasedUser[], batch: string[]) => void = () => {},
): Promise<ErasedUser[]> {
  const unique = [...new Set(userIds)];
  const out: ErasedUser[] = [];
  for (let i = 0; i < unique.length; i += ERASE_BATCH_USERS) {
    const batch = unique.slice(i, i + ERASE_BATCH_USERS);
    const erased = await eraseUsers(db, projectId, batch);
    out.push(...erased);
    done(erased, batch);
  }
  return out;
}
