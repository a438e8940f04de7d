import type { FastifyRequest } from 'fastify';
import type { IngestMetrics } from '../plugins/metrics.js';
import type { Project } from '../projects/repository.js';
import type { GroupCommitter } from './group-commit.js';
import type { EventRateLimiter } from './rate-limit.js';
import type { IngestSource } from './sources.js';
import { account } from './steps/account.js';
import { type Adapter, adapt } from './steps/adapt.js';
import { admit, BatchTooLarge } from './steps/admit.js';
import { InvalidBatch, type Skipped, validate } from './steps/validate.js';
import { toStore, type WriteResult } from './write-events.js';

/** What one request asks the pipeline to store. */
export interface IngestInput {
  source: IngestSource;
  /** The family's adapter (src/ingest/steps/adapt.ts eventsAdapter, src/ingest/sdk/). */
  adapter: Adapter;
  body: unknown;
  /** When the request arrived (ms since the epoch). */
  receivedAtMs: number;
  /** `batch`: one invalid event refuses the batch (POST /events). `message`: it is skipped (SDKs). */
  invalid: 'batch' | 'message';
  /**
   * Steps 1-2 already ran for this request (SDK routes admit a body from its outline before
   * parsing it).
   */
  admitted?: Project;
}

export interface IngestOutcome extends WriteResult {
  project: Project;
  /** Events that passed every rule (stored now or before). */
  valid: number;
  /** Messages that broke a rule, with why (SDK routes skip them). */
  invalid: Skipped[];
}

export interface PipelineDeps {
  projectOf(request: FastifyRequest): Promise<Project>;
  limiter: EventRateLimiter;
  committer: GroupCommitter;
  metrics: IngestMetrics;
  maxBatchEvents: number;
  /** Counts a project's stored events (for /stats/live). */
  stored(projectId: number, events: number): void;
}

/**
 * The one ingest pipeline every ingest route calls (POST /events, every SDK endpoint), as
 * named steps, each in its own module under src/ingest/steps/:
 *
 *   1. project  — the request's project (its key's; with AUTH=off the one it names)
 *   2. admit    — the batch limit (413) and the rate limit (429), before any per-message work
 *   3. adapt    — the family's envelope to our events (a 400 for a malformed envelope)
 *   4. validate — the event rules and the project's retention horizon
 *   5. write    — group commit into analytics.ingest_events()
 *
 * then accounting (rejected and skipped events in /metrics, a log line). Each step is timed
 * (ingest_step_duration_seconds{step}); the refusals of steps 2 and 4 are counted before
 * they are answered. Routes are HTTP only: they parse, call this, and shape the answer.
 */
export class IngestPipeline {
  constructor(private readonly deps: PipelineDeps) {}

  private async timed<T>(step: string, run: () => T | Promise<T>): Promise<T> {
    const end = this.deps.metrics.steps.startTimer({ step });
    try {
      return await run();
    } finally {
      end();
    }
  }

  /** Steps 1-2 for a request of `messages` messages: its project, then admission. */
  async admit(request: FastifyRequest, source: IngestSource, messages: number): Promise<Project> {
    const project = await this.timed('project', () => this.deps.projectOf(request));
    await this.timed('admit', () => {
      const rateKey = request.apiKey ? `key:${request.apiKey.id}` : `ip:${request.ip}`;
      try {
        admit(this.deps.limiter, this.deps.maxBatchEvents, source, rateKey, messages);
      } catch (error) {
        if (error instanceof BatchTooLarge) this.reject(source, 'batch_too_large', messages);
        throw error;
      }
    });
    return project;
  }

  /** Steps 1-5 (1-2 unless already admitted) and accounting. */
  async run(request: FastifyRequest, input: IngestInput): Promise<IngestOutcome> {
    const { source, adapter, body } = input;
    const project =
      input.admitted ?? (await this.admit(request, source, adapter.count?.(body) ?? 1));
    const messages = await this.timed('adapt', () =>
      adapt(adapter, source, body, input.receivedAtMs),
    );
    let checked: ReturnType<typeof validate>;
    try {
      checked = await this.timed('validate', () =>
        validate(messages, {
          invalid: input.invalid,
          receivedAtMs: input.receivedAtMs,
          retentionDays: project.rawRetentionDays,
        }),
      );
    } catch (error) {
      if (!(error instanceof InvalidBatch)) throw error;
      this.reject(source, 'invalid_batch', error.events);
      throw error.error;
    }
    account(this.deps.metrics, request.log, source, messages.length, checked.skipped);
    const result = await this.timed('write', () =>
      this.deps.committer.write(toStore(project.id, source, checked.valid)),
    );
    this.deps.metrics.accepted.inc(result.accepted);
    this.deps.metrics.skipped.inc(result.skipped);
    this.deps.stored(project.id, result.accepted);
    return { ...result, project, valid: checked.valid.length, invalid: checked.skipped };
  }

  /** Counts events refused before validation (a whole batch), by reason. */
  reject(source: IngestSource, reason: string, events: number): void {
    if (events > 0) this.deps.metrics.rejected.inc({ source, reason }, events);
  }
}
