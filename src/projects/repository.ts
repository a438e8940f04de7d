import { type Kysely, type RawBuilder, sql, type Transaction } from 'kysely';
import { type Database, SUMMARY_TABLES } from '../db/schema.js';
import { ApiError } from '../errors.js';

/** A project (tenant): its own events, users, summaries, keys and reporting zones. */
export interface Project {
  id: number;
  slug: string;
  name: string;
  /** Reporting zones in order: the first is the main zone; UTC is always one of them. */
  zones: ReportingZone[];
  createdAt: string;
  /** Raw events are kept this many days (undefined: forever). */
  rawRetentionDays: number | undefined;
  /**
   * Every raw event at or after this instant (ISO) is stored; older ones may have expired
   * (undefined: none did).
   */
  rawFloor: string | undefined;
}

export interface ReportingZone {
  /** As PostgreSQL reads it (IANA name, case as first added). */
  name: string;
  /** Its id in report_zones (summary rows carry it). */
  id: number;
  /**
   * The first local day its summaries are complete from ('YYYY-MM-DD'): a zone added after
   * raw events expired was built from what was left. Undefined: complete.
   */
  completeFrom: string | undefined;
}

/** The project every instance has from its first start; it cannot be deleted. */
export const DEFAULT_PROJECT = 'default';
export const SLUG = /^[a-z0-9-]{1,40}$/;

type Db = Kysely<Database> | Transaction<Database>;

interface ProjectRow {
  project_id: number;
  slug: string;
  name: string;
  created_at: string;
  raw_retention_days: number | null;
  raw_floor: string | null;
  zone_names: string[];
  zone_ids: number[];
  zone_complete_from: (string | null)[];
}

const toProject = (r: ProjectRow): Project => ({
  id: r.project_id,
  slug: r.slug,
  name: r.name,
  createdAt: r.created_at,
  rawRetentionDays: r.raw_retention_days ?? undefined,
  rawFloor: r.raw_floor ?? undefined,
  zones: r.zone_names.map((name, i) => ({
    name,
    id: r.zone_ids[i] as number,
    completeFrom: r.zone_complete_from[i] ?? undefined,
  })),
});

const isoUtc = (column: string) =>
  sql.raw(`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);

function selectProjects(where: RawBuilder<unknown>) {
  return sql<ProjectRow>`
    SELECT p.project_id, p.slug, p.name, ${isoUtc('p.created_at')} AS created_at,
           p.raw_retention_days, ${isoUtc('p.raw_floor')} AS raw_floor,
           array_agg(z.name ORDER BY pz.position) AS zone_names,
           array_agg(z.zone_id::int ORDER BY pz.position) AS zone_ids,
           array_agg(pz.complete_from::text ORDER BY pz.position) AS zone_complete_from
    FROM projects p
    JOIN project_zones pz ON pz.project_id = p.project_id
    JOIN report_zones z ON z.zone_id = pz.zone_id
    WHERE ${where}
    GROUP BY p.project_id
    ORDER BY p.project_id`;
}

export async function listProjects(db: Db): Promise<Project[]> {
  const { rows } = await selectProjects(sql`true`).execute(db);
  return rows.map(toProject);
}

export async function findProject(
  db: Db,
  by: { slug: string } | { id: number },
): Promise<Project | undefined> {
  const where = 'slug' in by ? sql`p.slug = ${by.slug}` : sql`p.project_id = ${by.id}`;
  const { rows } = await selectProjects(where).execute(db);
  return rows[0] && toProject(rows[0]);
}

/** The project or a 404 naming the slug. */
export async function requireProject(db: Db, slug: string): Promise<Project> {
  const project = await findProject(db, { slug });
  if (!project) throw projectNotFound(slug);
  return project;
}

export function projectNotFound(slug: string): ApiError {
  return new ApiError(404, 'not_found', `no project "${slug}"`);
}

/**
 * Sets the project's reporting zones (analytics.set_project_zones: builds added zones from
 * the project's events, holding only this project's writes); returns the zones built.
 */
async function setZones(db: Db, projectId: number, zones: string[]): Promise<string[]> {
  const { rows } = await sql<{ built: string[] }>`
    SELECT analytics.set_project_zones(${projectId}::int, ${zones}::text[]) AS built`.execute(db);
  return rows[0]?.built ?? [];
}

export interface NewProject {
  slug: string;
  name: string;
  /** Main zone first; UTC is added when missing. */
  zones: string[];
  /** Days raw events are kept (undefined: forever). */
  rawRetentionDays?: number | undefined;
}

/** Creates a project; a 409 when the slug is taken. */
export async function createProject(db: Kysely<Database>, input: NewProject): Promise<Project> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ project_id: number }>`
      INSERT INTO projects (slug, name, raw_retention_days)
      VALUES (${input.slug}, ${input.name}, ${input.rawRetentionDays ?? null})
      ON CONFLICT (slug) DO NOTHING RETURNING project_id`.execute(trx);
    const id = rows[0]?.project_id;
    if (id === undefined) {
      throw new ApiError(409, 'conflict', `a project "${input.slug}" exists already`);
    }
    await setZones(trx, id, input.zones);
    return (await findProject(trx, { id })) as Project;
  });
}

export interface ProjectChange {
  name?: string;
  zones?: string[];
  /** Days raw events are kept; null: forever (undefined: unchanged). */
  rawRetentionDays?: number | null;
}

/**
 * Renames a project, replaces its reporting zones and/or sets its raw retention; returns it
 * and the zones built.
 */
export async function updateProject(
  db: Kysely<Database>,
  slug: string,
  change: ProjectChange,
): Promise<{ project: Project; built: string[] }> {
  return db.transaction().execute(async (trx) => {
    const project = await requireProject(trx, slug);
    if (change.name !== undefined) {
      await sql`UPDATE projects SET name = ${change.name} WHERE project_id = ${project.id}`.execute(
        trx,
      );
    }
    if (change.rawRetentionDays !== undefined) {
      // A shorter horizon takes effect at once for writes (older events are refused) and
      // at the next maintenance pass for stored weeks; a longer one cannot bring back
      // weeks that expired already (raw_floor stays).
      await sql`UPDATE projects SET raw_retention_days = ${change.rawRetentionDays}
                WHERE project_id = ${project.id}`.execute(trx);
    }
    const built = change.zones === undefined ? [] : await setZones(trx, project.id, change.zones);
    return { project: (await findProject(trx, { id: project.id })) as Project, built };
  });
}

/** What deleting a project removed. */
export interface DeletedProject {
  slug: string;
  events: number;
  users: number;
  event_types: number;
  summary_rows: number;
  keys: number;
}

async function deleteRows(trx: Transaction<Database>, table: string, projectId: number) {
  const { numAffectedRows } = await sql`
    DELETE FROM ${sql.table(table)} WHERE project_id = ${projectId}`.execute(trx);
  return Number(numAffectedRows ?? 0n);
}

/**
 * Deletes a project with its events, users, summaries and keys in one transaction, after
 * its batches in flight (it takes the project's lock exclusively). `default` cannot be
 * deleted (409).
 */
export async function deleteProject(db: Kysely<Database>, slug: string): Promise<DeletedProject> {
  if (slug === DEFAULT_PROJECT) {
    throw new ApiError(409, 'conflict', `the project "${DEFAULT_PROJECT}" cannot be deleted`);
  }
  return db.transaction().execute(async (trx) => {
    const project = await requireProject(trx, slug);
    await sql`SELECT analytics.lock_project_exclusive(${project.id}::int)`.execute(trx);
    let summaryRows = 0;
    for (const table of SUMMARY_TABLES) summaryRows += await deleteRows(trx, table, project.id);
    // The dedup rows go with the events; a week expired for the project is forgotten too.
    await deleteRows(trx, 'event_ids', project.id);
    await deleteRows(trx, 'expired_partitions', project.id);
    const result: DeletedProject = {
      slug,
      events: await deleteRows(trx, 'events', project.id),
      users: await deleteRows(trx, 'users', project.id),
      event_types: await deleteRows(trx, 'event_types', project.id),
      summary_rows: summaryRows,
      keys: await deleteRows(trx, 'api_keys', project.id),
    };
    await sql`DELETE FROM projects WHERE project_id = ${project.id}`.execute(trx);
    return result;
  });
}
