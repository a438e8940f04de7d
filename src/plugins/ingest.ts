import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type GroupCommitOptions, GroupCommitter } from '../ingest/group-commit.js';
import { EventRateLimiter, type RateLimitOptions } from '../ingest/rate-limit.js';
import type { IngestSource } from '../ingest/sources.js';
import type { ValidEvent } from '../ingest/validate-event.js';
import { storeUniqueEvents, toStore, type WriteResult } from '../ingest/write-events.js';

declare module 'fastify' {
  interface FastifyInstance {
    ingest: Ingest;
  }
}

export type { IngestSource };

export interface Ingest {
  /** Charges `events` to the request's key (its IP when AUTH=off); a 429 with Retry-After if over. */
  admit(request: FastifyRequest, events: number): void;
  /**
   * Stores a request's validated events (one project, one ingest family) through group
   * commit; counts them in /metrics.
   */
  write(projectId: number, source: IngestSource, events: ValidEvent[]): Promise<WriteResult>;
  /** Counts events that were refused or skipped as invalid, by reason. */
  reject(source: IngestSource, reason: string, events: number): void;
  /** Events this process stored so far, per project id (for /stats/live). */
  readonly acceptedByProject: ReadonlyMap<number, number>;
}

export interface IngestOptions {
  groupCommit: GroupCommitOptions;
  rateLimit: RateLimitOptions;
}

/** The one write path every ingest route uses: rate limit, group commit, metrics. */
export default fp(
  async (app: FastifyInstance, options: IngestOptions) => {
    const committer = new GroupCommitter(
      (events) => storeUniqueEvents(app.db, events),
      options.groupCommit,
    );
    const limiter = new EventRateLimiter(options.rateLimit);
    const { accepted, skipped, rejected } = app.metrics.ingest;
    const acceptedByProject = new Map<number, number>();

    app.decorate('ingest', {
      admit(request, events) {
        limiter.take(request.apiKey ? `key:${request.apiKey.id}` : `ip:${request.ip}`, events);
      },
      async write(projectId, source, events) {
        const result = await committer.write(toStore(projectId, source, events));
        accepted.inc(result.accepted);
        acceptedByProject.set(projectId, (acceptedByProject.get(projectId) ?? 0) + result.accepted);
        skipped.inc(result.skipped);
        return result;
      },
      reject(source, reason, events) {
        if (events > 0) rejected.inc({ source, reason }, events);
      },
      acceptedByProject,
    } satisfies Ingest);
  },
  { name: 'ingest', dependencies: ['db', 'metrics'] },
);
