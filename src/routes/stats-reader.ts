import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Project } from '../projects/repository.js';
import { ConcurrencyGate } from '../stats/concurrency-gate.js';
import { requireCompleteDays } from '../stats/coverage.js';
import {
  NOT_REPORTING_ZONE_SQLSTATE,
  UNKNOWN_ZONE_SQLSTATE,
  unknownZone,
  type Zone,
  zoneFor,
} from '../stats/zone.js';

/** A turn for a raw-event query comes within this long, or the answer is 503 `busy`. */
const RAW_READ_MAX_WAIT_MS = 5000;

export interface RawReadLimits {
  /** Raw-event queries at once (RAW_STATS_CONCURRENCY) and waiting (RAW_STATS_QUEUE). */
  concurrency: number;
  queue: number;
}

/** The project and zone of a read question. */
export interface ReadScope {
  project: Project;
  zone: Zone;
}

/**
 * How every read route (/stats, /users) reaches the database, shared so that one gate
 * admits every raw-event query of the process (issue 19, finding 2): summary reads on the
 * summary pool; raw-event reads (zones without summaries, filters, breakdowns, funnels,
 * properties, user timelines) on the raw-read pool, at most RAW_STATS_CONCURRENCY at once,
 * the rest waiting without a connection or answered 503 `busy`. Ingest and /healthz keep
 * their own connections either way. `Server-Timing` says which path answered. Statements
 * on either pool are bounded by STATEMENT_TIMEOUT_MS (a cancelled one is a 503
 * `query_timeout`).
 */
export class StatsReader {
  private readonly gate: ConcurrencyGate;

  constructor(
    private readonly app: FastifyInstance,
    limits: RawReadLimits,
  ) {
    this.gate = new ConcurrencyGate({
      ...limits,
      maxWaitMs: RAW_READ_MAX_WAIT_MS,
      what: 'raw-event /stats queries (zones without summaries, filters, breakdowns, funnels) and /users reads',
    });
  }

  /** The request's project and the zone of its question (the project's main zone by default). */
  async scope(request: FastifyRequest, tz: string | undefined): Promise<ReadScope> {
    const project = await this.app.projects.forRequest(request);
    return { project, zone: zoneFor(project, tz) };
  }

  /**
   * 422 `outside_retention` when the question reads a local day (`firstDay`, set by the
   * parameter `field`) before the first day its path can answer whole (src/stats/coverage.ts).
   * `raw`: the question reads raw events whatever the zone (filters, breakdowns, funnels).
   */
  requireComplete(scope: ReadScope, firstDay: string, field: string, raw = false): void {
    const zone = raw ? { ...scope.zone, reportingId: undefined } : scope.zone;
    requireCompleteDays(scope.project, zone, firstDay, field);
  }

  /**
   * Answers a /stats question in its zone: from summaries (a reporting zone of the project)
   * on the summary-read pool, else from raw events through the gate.
   *
   * Two database errors are handled here, by SQLSTATE: 22023 (AT TIME ZONE does not know
   * the zone; PostgreSQL's tz database may differ from Node's) is a 422, and EA409 (the zone
   * stopped being a reporting zone after the project's settings were cached) re-asks the
   * question from raw events.
   */
  async read<T>(
    reply: FastifyReply,
    zone: Zone,
    run: (db: Kysely<Database>, zone: Zone) => Promise<T>,
  ): Promise<T> {
    const { summary, raw } = this.app.statsDb;
    const started = performance.now();
    const fromRaw = (z: Zone) => this.gate.run(() => run(raw, z));
    let used = zone;
    let result: T;
    try {
      if (zone.reportingId === undefined) result = await fromRaw(zone);
      else {
        try {
          result = await run(summary, zone);
        } catch (error) {
          if ((error as { code?: unknown }).code !== NOT_REPORTING_ZONE_SQLSTATE) throw error;
          this.app.projects.registry.invalidate();
          used = { ...zone, reportingId: undefined };
          result = await fromRaw(used);
        }
      }
    } catch (error) {
      throw this.zoneError(error, zone);
    }
    const path =
      used.reportingId !== undefined
        ? `summaries;desc="reporting zone ${used.name}"`
        : `raw-events;desc="${used.name} is not a reporting zone of this project"`;
    this.timing(reply, path, started);
    return result;
  }

  /**
   * Answers from raw events only, through the gate: questions summaries cannot answer
   * (filters, breakdowns, funnels, properties, users). `why` goes into Server-Timing.
   */
  async readRaw<T>(
    reply: FastifyReply,
    zone: Zone | undefined,
    why: string,
    run: (db: Kysely<Database>) => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    let result: T;
    try {
      result = await this.gate.run(() => run(this.app.statsDb.raw));
    } catch (error) {
      throw zone ? this.zoneError(error, zone) : error;
    }
    this.timing(reply, `raw-events;desc="${why}"`, started);
    return result;
  }

  private zoneError(error: unknown, zone: Zone): unknown {
    if ((error as { code?: unknown }).code === UNKNOWN_ZONE_SQLSTATE) {
      return unknownZone(zone.name, 'is not known to the database');
    }
    return error;
  }

  private timing(reply: FastifyReply, path: string, started: number): void {
    reply.header('server-timing', `${path};dur=${(performance.now() - started).toFixed(1)}`);
  }
}
