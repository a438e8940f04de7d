import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type GroupCommitOptions, GroupCommitter } from '../ingest/group-commit.js';
import { IngestPipeline } from '../ingest/pipeline.js';
import { EventRateLimiter, type RateLimitOptions } from '../ingest/rate-limit.js';
import type { IngestSource } from '../ingest/sources.js';
import { storeUniqueEvents } from '../ingest/write-events.js';

declare module 'fastify' {
  interface FastifyInstance {
    ingest: Ingest;
  }
}

export type { IngestSource };

export interface Ingest {
  /** The one pipeline every ingest route calls (src/ingest/pipeline.ts). */
  pipeline: IngestPipeline;
  /** Events this process stored so far, per project id (for /stats/live). */
  readonly acceptedByProject: ReadonlyMap<number, number>;
}

export interface IngestOptions {
  groupCommit: GroupCommitOptions;
  rateLimit: RateLimitOptions;
  maxBatchEvents: number;
}

/** The ingest pipeline, with its rate limiter, group commit and counters, for every route. */
export default fp(
  async (app: FastifyInstance, options: IngestOptions) => {
    const acceptedByProject = new Map<number, number>();
    const pipeline = new IngestPipeline({
      projectOf: (request) => app.projects.forRequest(request),
      limiter: new EventRateLimiter(options.rateLimit),
      committer: new GroupCommitter(
        (events) => storeUniqueEvents(app.db, events),
        options.groupCommit,
      ),
      metrics: app.metrics.ingest,
      maxBatchEvents: options.maxBatchEvents,
      stored(projectId, events) {
        acceptedByProject.set(projectId, (acceptedByProject.get(projectId) ?? 0) + events);
      },
    });
    app.decorate('ingest', { pipeline, acceptedByProject } satisfies Ingest);
  },
  { name: 'ingest', dependencies: ['db', 'metrics', 'projects'] },
);
