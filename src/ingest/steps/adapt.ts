import { ApiError, validationError } from '../../errors.js';
import { EnvelopeError, type MappedMessage } from '../sdk/types.js';
import type { IngestSource } from '../sources.js';

/**
 * One message of a batch: mapped (an SDK's message as our event's fields, or POST /events'
 * item as sent, which the rules check field by field), or why it could not be.
 */
export type Message = MappedMessage | { index: number; ok: true; event: unknown };

/** Turns a request body into the events it carries, before validation. */
export interface Adapter {
  /**
   * How many messages the body holds, read without touching them (admission comes before
   * any work per message). SDK routes count from the body's outline instead.
   */
  count?(body: unknown): number;
  map(body: unknown, receivedAtMs: number): { messages: Message[] };
}

function eventArray(body: unknown): unknown[] {
  if (!Array.isArray(body)) {
    throw validationError('the body must be a JSON array of events', [
      { field: 'body', message: 'must be an array' },
    ]);
  }
  if (body.length === 0) {
    throw validationError('the batch is empty', [
      { field: 'body', message: 'must hold at least 1 event' },
    ]);
  }
  return body;
}

/**
 * POST /events: the body is our own event array, each item an event as is. An array with
 * nothing in it, or anything else, is a 422 (POST /events documents it so).
 */
export const eventsAdapter: Adapter = {
  count: (body) => eventArray(body).length,
  map: (body) => ({
    messages: eventArray(body).map((event, index): Message => ({ index, ok: true, event })),
  }),
};

/**
 * Step 3, adapt: the family's adapter (src/ingest/sdk/ for the SDK families) maps the
 * envelope to our events; a malformed envelope is a 400 (the SDKs do not retry a 400).
 */
export function adapt(
  adapter: Adapter,
  source: IngestSource,
  body: unknown,
  receivedAtMs: number,
): Message[] {
  try {
    return adapter.map(body, receivedAtMs).messages;
  } catch (error) {
    if (!(error instanceof EnvelopeError)) throw error;
    throw new ApiError(
      400,
      'bad_request',
      `the request is not a ${source} batch: ${error.field || 'body'} ${error.message}`,
      [{ field: error.field || 'body', message: error.message }],
    );
  }
}
