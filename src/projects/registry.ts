import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { Database } from '../db/schema.js';
import { findProject, type Project } from './repository.js';

type Lookup = { project: Project } | { project: undefined };

/**
 * Answers "which project is this?" without a database round trip per request. Each answer
 * (unknown slugs included) is kept for `ttlMs`: a change made through another instance
 * reaches this one within that time; changes made here are seen at once (invalidate()).
 * A /stats answer never depends on a stale entry being right: a zone that stopped being a
 * reporting zone is caught by the summary queries themselves (analytics.reporting_zone).
 */
export class ProjectRegistry {
  private readonly cache: LRUCache<string, Lookup>;

  constructor(db: Kysely<Database>, ttlMs: number) {
    this.cache = new LRUCache<string, Lookup>({
      max: 10_000,
      ttl: ttlMs,
      fetchMethod: async (key) => {
        const by = key.startsWith('#') ? { id: Number(key.slice(1)) } : { slug: key };
        return { project: await findProject(db, by) };
      },
    });
  }

  async bySlug(slug: string): Promise<Project | undefined> {
    return (await this.cache.fetch(slug))?.project;
  }

  async byId(id: number): Promise<Project | undefined> {
    return (await this.cache.fetch(`#${id}`))?.project;
  }

  /** Forgets every entry (after a change made through this instance). */
  invalidate(): void {
    this.cache.clear();
  }
}
