import type { FastifyBaseLogger } from 'fastify';
import type { IngestMetrics } from '../../plugins/metrics.js';
import type { IngestSource } from '../sources.js';
import { MAX_ERROR_DETAILS, type Skipped } from './validate.js';

/**
 * Labels of skipped events in /metrics: our field at fault, from a closed set. The adapters
 * name the SDK's field (a track without `event`, a bad `timestamp`), the rules ours (a blank
 * event type, a time too far ahead): both count under our field, so one problem has one
 * label whichever check found it.
 */
const REASONS: Record<string, string> = {
  event_id: 'event_id',
  messageId: 'event_id',
  uuid: 'event_id',
  insert_id: 'event_id',
  occurred_at: 'occurred_at',
  timestamp: 'occurred_at',
  originalTimestamp: 'occurred_at',
  sentAt: 'occurred_at',
  time: 'occurred_at',
  offset: 'occurred_at',
  user_id: 'user_id',
  userId: 'user_id',
  anonymousId: 'user_id',
  distinct_id: 'user_id',
  'properties.distinct_id': 'user_id',
  device_id: 'user_id',
  event_type: 'event_type',
  event: 'event_type',
  type: 'event_type',
  properties: 'properties',
  traits: 'properties',
  event_properties: 'properties',
};

/** The reason label of a skipped message (`outside_retention` has its own). */
export function reasonOf(skipped: Pick<Skipped, 'field' | 'code'>): string {
  return skipped.code ?? REASONS[skipped.field] ?? 'other';
}

/**
 * Accounting: events refused or skipped are counted in events_ingest_rejected_total by
 * family and reason (so accepted + skipped + rejected = events received), and the skipped
 * messages of a batch are logged, at most MAX_ERROR_DETAILS of them.
 */
export function account(
  metrics: IngestMetrics,
  log: FastifyBaseLogger,
  source: IngestSource,
  received: number,
  skipped: Skipped[],
): void {
  if (skipped.length === 0) return;
  for (const s of skipped) metrics.rejected.inc({ source, reason: reasonOf(s) });
  log.warn(
    {
      logger: 'ingest',
      source,
      skipped: skipped.length,
      events: skipped.slice(0, MAX_ERROR_DETAILS),
    },
    `skipped ${skipped.length} invalid of ${received} ${source} messages`,
  );
}
