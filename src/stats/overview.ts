import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { formatDay, today } from './dates.js';
import { dailyActiveUsers } from './dau.js';
import { eventCount } from './top-events.js';
import type { Zone } from './zone.js';

export interface Overview {
  date: string;
  events_today: number;
  active_users_today: number;
}

/** The dashboard's headline numbers for the current calendar day in the zone. */
export async function overview(
  db: Kysely<Database>,
  projectId: number,
  zone: Zone,
  now = new Date(),
): Promise<Overview> {
  const date = formatDay(today(zone.name, now));
  const range = { from: date, to: date };
  const [events, dau] = await Promise.all([
    eventCount(db, projectId, range, zone),
    dailyActiveUsers(db, projectId, range, zone),
  ]);
  return { date, events_today: events, active_users_today: dau[0]?.unique_users ?? 0 };
}
