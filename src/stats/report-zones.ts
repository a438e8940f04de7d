import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Makes every zone of REPORT_TIME_ZONES a reporting zone (summaries in its local days;
 * migrations/0005 add_report_zone). A zone added for the first time has its summaries
 * built from the stored events, holding new writes until that commits. Returns the zones
 * that were added.
 */
export async function ensureReportZones(db: Kysely<Database>, zones: string[]): Promise<string[]> {
  const added: string[] = [];
  for (const zone of zones) {
    const { rows } = await sql<{ known: boolean }>`
      SELECT EXISTS (SELECT 1 FROM report_zones WHERE name = ${zone}) AS known`.execute(db);
    if (rows[0]?.known) continue;
    await sql`SELECT add_report_zone(${zone})`.execute(db);
    added.push(zone);
  }
  return added;
}
