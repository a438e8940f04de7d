import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ErrorResponse } from '../schemas/errors.js';
import { LiveResponse, ProjectParam } from '../schemas/stats.js';

export const WINDOW_SLOTS = 60;

/**
 * The last `size` samples of a monotonic counter, oldest overwritten first. The increase
 * over the window is the counter now minus the oldest sample still held.
 */
export class SampleRing {
  private readonly samples: number[] = [];
  private next = 0;

  constructor(private readonly size = WINDOW_SLOTS) {}

  record(value: number): void {
    if (this.samples.length < this.size) this.samples.push(value);
    else this.samples[this.next] = value;
    this.next = (this.next + 1) % this.size;
  }

  /** `current` minus the oldest sample (0 when nothing has been sampled yet). */
  increaseSince(current: number): number {
    const oldest = this.samples.length < this.size ? this.samples[0] : this.samples[this.next];
    return oldest === undefined ? 0 : current - oldest;
  }
}

export interface LiveOptions {
  /** How often the counter is sampled; 1 s in production, shorter in tests. */
  sampleEveryMs?: number;
}

/**
 * Events per second over the last minute, per project, from the counts of stored events
 * this process already keeps (app.ingest.acceptedByProject): no database query, so the
 * dashboard can ask every few seconds.
 */
const liveRoutes: FastifyPluginAsyncTypebox<LiveOptions> = async (app, options) => {
  const counts = app.ingest.acceptedByProject;
  const rings = new Map<number, SampleRing>();
  /** A project first seen now has stored nothing before now (its ring starts at 0). */
  const ringOf = (projectId: number) => {
    let ring = rings.get(projectId);
    if (!ring) {
      ring = new SampleRing();
      ring.record(0);
      rings.set(projectId, ring);
    }
    return ring;
  };
  const timer = setInterval(() => {
    for (const [projectId, count] of counts) ringOf(projectId).record(count);
  }, options.sampleEveryMs ?? 1000);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  app.get(
    '/stats/live',
    {
      schema: {
        tags: ['stats'],
        operationId: 'getLiveIngestRate',
        summary: 'Ingest rate over the last minute',
        description:
          "Events of the request's project stored by this server process in the last 60 " +
          'seconds (sampled every second) and the mean rate per second. Per process: with ' +
          'several instances, each reports its own.',
        querystring: Type.Object({ project: ProjectParam }),
        response: { 200: LiveResponse, 404: ErrorResponse, 503: ErrorResponse },
      },
    },
    async (request) => {
      const project = await app.projects.forRequest(request);
      const eventsLastMinute = ringOf(project.id).increaseSince(counts.get(project.id) ?? 0);
      return {
        events_last_minute: eventsLastMinute,
        events_per_second: Math.round((eventsLastMinute / WINDOW_SLOTS) * 100) / 100,
      };
    },
  );
};

export default liveRoutes;
