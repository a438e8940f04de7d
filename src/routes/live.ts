import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorResponse } from '../schemas/errors.js';
import { LiveResponse } from '../schemas/stats.js';

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
 * Events per second over the last minute, from the `events_ingest_accepted_total` counter
 * this process already keeps: no database query, so the dashboard can ask every few seconds.
 */
const liveRoutes: FastifyPluginAsyncTypebox<LiveOptions> = async (app, options) => {
  const accepted = app.metrics.ingest.accepted;
  const read = async () => (await accepted.get()).values[0]?.value ?? 0;
  const ring = new SampleRing();
  ring.record(await read());
  const timer = setInterval(() => {
    read().then(
      (value) => ring.record(value),
      (error: unknown) => app.log.error({ err: error }, 'sampling the ingest counter failed'),
    );
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
          'Events accepted by this server process in the last 60 seconds (sampled every second ' +
          'from `events_ingest_accepted_total`) and the mean rate per second. Per process: ' +
          'with several instances, each reports its own.',
        response: { 200: LiveResponse, 503: ErrorResponse },
      },
    },
    async () => {
      const eventsLastMinute = ring.increaseSince(await read());
      return {
        events_last_minute: eventsLastMinute,
        events_per_second: Math.round((eventsLastMinute / WINDOW_SLOTS) * 100) / 100,
      };
    },
  );
};

export default liveRoutes;
