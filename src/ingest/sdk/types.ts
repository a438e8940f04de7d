/**
 * What every SDK adapter (one module per SDK family in this folder) turns a request body
 * into. Adapters only map fields; the route validates each mapped event with the same
 * validateEvent() as POST /events, stores the valid ones and skips the rest.
 */

/** The wire protocols we speak; also the namespace of derived event ids. */
export type SdkFamily = 'segment' | 'posthog' | 'amplitude';

/** Our event's fields as mapped from one SDK message, before validation. */
export interface MappedEvent {
  event_id: string;
  /** ISO 8601 text (the client's, or computed after clock-skew correction). */
  occurred_at: string;
  user_id: unknown;
  event_type: unknown;
  properties: unknown;
}

/** One message of the SDK batch: mapped, or why it could not be. */
export type MappedMessage =
  | { index: number; ok: true; event: MappedEvent }
  | { index: number; ok: false; field: string; message: string };

/** An SDK batch mapped. (The key in the body is read before parsing: sdk/envelope.ts.) */
export interface SdkBatch {
  messages: MappedMessage[];
}

export interface AdapterContext {
  /** When the request arrived (ms since the epoch): the default event time and skew reference. */
  receivedAtMs: number;
}

/** The envelope itself is malformed (not an object, batch not an array...): a 400. */
export class EnvelopeError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

/**
 * A message of a batch that could not be parsed on its own terms (nested deeper than the
 * exact parser goes): the adapters skip it with `reason`, the others are kept.
 */
export class UnparsableMessage {
  constructor(readonly reason: string) {}
}
