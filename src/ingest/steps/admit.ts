import { ApiError } from '../../errors.js';
import type { EventRateLimiter } from '../rate-limit.js';
import type { IngestSource } from '../sources.js';

/**
 * Step 2, admit: a batch over MAX_BATCH_EVENTS is a 413, and the request's events are
 * charged to its key's token bucket (its address with AUTH=off), 429 when it is empty.
 * Runs before any work per message (SDK routes: from the body's outline, before it is
 * parsed). `rateKey` is `key:<id>` or `ip:<address>`.
 */
export function admit(
  limiter: EventRateLimiter,
  maxBatchEvents: number,
  source: IngestSource,
  rateKey: string,
  messages: number,
): void {
  if (messages > maxBatchEvents) {
    const what = source === 'events' ? 'events' : 'messages';
    throw new BatchTooLarge(
      `the batch has ${messages} ${what}; the limit is ${maxBatchEvents} (MAX_BATCH_EVENTS)`,
    );
  }
  limiter.take(rateKey, messages);
}

/** A 413 the pipeline counts as `batch_too_large` before answering. */
export class BatchTooLarge extends ApiError {
  constructor(message: string) {
    super(413, 'payload_too_large', message);
  }
}
