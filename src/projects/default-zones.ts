import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { DEFAULT_PROJECT, findProject, updateProject } from './repository.js';
import { checkZoneList } from './zones.js';

/**
 * REPORT_TIME_ZONES at start-up: every zone it lists that the `default` project lacks is
 * added to it (its summaries built from the project's events, holding only that project's
 * writes), as the variable always did; zones are never removed by it. When `default` had
 * no zone but UTC, the first listed zone becomes its main zone. (New projects start with
 * the same list: src/routes/projects.ts, src/cli/projects.ts.) Returns the zones built.
 */
export async function ensureDefaultProjectZones(
  db: Kysely<Database>,
  zones: string[],
): Promise<string[]> {
  const wanted = checkZoneList(zones, 'REPORT_TIME_ZONES');
  const project = await findProject(db, { slug: DEFAULT_PROJECT });
  if (!project) return [];
  const current = project.zones.map((z) => z.name);
  const missing = wanted.filter((w) => !current.some((c) => c.toLowerCase() === w.toLowerCase()));
  if (missing.length === 0) return [];
  // UTC is kept last unless someone listed it earlier on purpose.
  const utcLast = current.at(-1) === 'UTC';
  const list = [...(utcLast ? current.slice(0, -1) : current), ...missing];
  const { built } = await updateProject(db, DEFAULT_PROJECT, { zones: list });
  return built;
}
