import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge } from 'prom-client';
import { type MaintenanceReport, maintainOnce } from '../lifecycle/maintenance.js';

declare module 'fastify' {
  interface FastifyInstance {
    maintenance: {
      /**
       * One maintenance pass now (what the timer runs): undefined when another instance
       * holds the lock. Logs and records its metrics either way.
       */
      runOnce(): Promise<MaintenanceReport | undefined>;
    };
  }
}

export interface MaintenanceOptions {
  /** Seconds between passes (MAINTENANCE_INTERVAL_S); 0: no timer (runOnce still works). */
  intervalS: number;
  /** The clock passes are told (tests fast-forward it); Date.now by default. */
  now?: () => number;
}

/** On close, a pass in flight gets this long to finish; the next pass finishes what it left. */
const CLOSE_WAIT_MS = 5000;

/**
 * Maintenance in the service (docs/lifecycle.md): a pass (src/lifecycle/maintenance.ts)
 * once the server listens, then every MAINTENANCE_INTERVAL_S: partitions made ahead,
 * weeks older than a project's horizon expired and dropped, dictionaries pruned. Replicas
 * each run the timer; the advisory lock lets one pass run at a time and the others skip.
 * An app that never listens (tests with inject, the OpenAPI generator) never runs one.
 */
export default fp(
  async (app: FastifyInstance, options: MaintenanceOptions) => {
    const now = options.now ?? Date.now;
    const registry = app.metrics.registry;
    const lastRun = new Gauge({
      name: 'maintenance_last_run_timestamp_seconds',
      help: 'When this instance last finished a maintenance pass (Unix seconds)',
      registers: [registry],
    });
    const partitions = new Gauge({
      name: 'maintenance_event_partitions',
      help: 'Weekly partitions of raw events after the last maintenance pass',
      registers: [registry],
    });
    const expiredEvents = new Counter({
      name: 'maintenance_expired_events_total',
      help: 'Raw events that expired (retention) in this instance’s maintenance passes',
      registers: [registry],
    });
    const droppedPartitions = new Counter({
      name: 'maintenance_dropped_partitions_total',
      help: 'Partitions of raw events dropped by this instance’s maintenance passes',
      registers: [registry],
    });
    const runs = new Counter({
      name: 'maintenance_runs_total',
      help: 'Maintenance passes by result: done, skipped (another instance held the lock), failed',
      labelNames: ['result'] as const,
      registers: [registry],
    });
    const log = app.log.child({ logger: 'maintenance' });

    async function runOnce(): Promise<MaintenanceReport | undefined> {
      const started = performance.now();
      let report: MaintenanceReport | undefined;
      try {
        report = await maintainOnce(app.pool, now());
      } catch (error) {
        runs.inc({ result: 'failed' });
        throw error;
      }
      if (!report) {
        runs.inc({ result: 'skipped' });
        log.info('maintenance skipped: another instance is running a pass');
        return undefined;
      }
      runs.inc({ result: 'done' });
      // Expired weeks moved projects' raw floors: this instance's cached projects must see
      // them now (other instances' caches are refreshed within their TTL, 2 s).
      if (report.expired.length > 0) app.projects.registry.invalidate();
      lastRun.set(now() / 1000);
      partitions.set(report.partitions);
      expiredEvents.inc(report.expiredEvents);
      droppedPartitions.inc(report.dropped.length);
      const ms = Math.round(performance.now() - started);
      log.info(
        {
          created: report.created,
          expired: report.expired,
          dropped: report.dropped,
          expired_events: report.expiredEvents,
          partitions: report.partitions,
          pruned_event_types: report.prunedEventTypes,
          duration_ms: ms,
        },
        `maintenance: ${report.created.length} partitions created, ${report.expiredEvents} raw events expired, ${report.dropped.length} partitions dropped, ${report.partitions} partitions (${ms} ms)`,
      );
      return report;
    }

    let timer: NodeJS.Timeout | undefined;
    let running: Promise<unknown> | undefined;
    let closed = false;
    const tick = () => {
      running = runOnce()
        .catch((error: unknown) => {
          log.error({ err: error }, 'maintenance pass failed; the next pass retries');
        })
        .finally(() => {
          running = undefined;
          if (!closed) schedule();
        });
    };
    const schedule = () => {
      timer = setTimeout(tick, options.intervalS * 1000);
      timer.unref();
    };

    app.decorate('maintenance', { runOnce });
    if (options.intervalS > 0) {
      app.addHook('onListen', async () => {
        if (!closed && timer === undefined && running === undefined) tick();
      });
    }
    app.addHook('onClose', async () => {
      closed = true;
      clearTimeout(timer);
      if (running) {
        await Promise.race([running, new Promise((r) => setTimeout(r, CLOSE_WAIT_MS).unref())]);
      }
    });
  },
  { name: 'maintenance', dependencies: ['db', 'metrics', 'projects'] },
);
