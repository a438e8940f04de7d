import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Exploration queries aggregate hundreds of thousands of raw events per request. They run
 * in a transaction of their own with two settings, local to it (SET LOCAL: a pooled
 * connection goes back unchanged):
 * - work_mem 64MB: the (type, value, user) and (day, user) hash tables of a 1M-event range
 *   fit (tens of MB; PostgreSQL's 4MB default spilled them to disk, or made the planner
 *   sort instead). At most a few such tables per query, so a request stays within a few
 *   hundred MB even at 10M events (a hash table spills, it does not fail, past hash_mem).
 * - jit off: compiling these plans took longer than it saved at these sizes.
 * - parallel_tuple_cost 0.01, parallel_setup_cost 100 (defaults 0.1 and 1000): with the
 *   defaults the planner kept the range scan in one process (it priced sending 300k rows
 *   from the workers above scanning them alone); both cores scanning halved the filtered
 *   DAU and the funnel at 1M rows (EXPLAIN ANALYZE, docs/exploration.md).
 */
export async function exploring<T>(
  db: Kysely<Database>,
  run: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await sql`SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true),
      set_config('parallel_tuple_cost', '0.01', true), set_config('parallel_setup_cost', '100', true)`.execute(
      trx,
    );
    return run(trx);
  });
}
