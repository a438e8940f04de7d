import { isPlainObject } from '../rules.js';
import {
  addMissing,
  deriveEventId,
  envelopeSentAt,
  eventTime,
  eventTimeFromEpochMs,
  idText,
  jsonNumber,
  MessageProblem,
  mapMessages,
  propertiesFrom,
  type TimeField,
  timeField,
} from './common.js';
import { type AdapterContext, EnvelopeError, type MappedEvent, type SdkBatch } from './types.js';

/**
 * PostHog's capture API: posthog-node sends `{"api_key", "batch": [event...], "sent_at"}`
 * to /batch/; posthog-js sends a JSON array of events, or one event, to /e/ with the key
 * as `token` inside each event's properties.
 */

/** Where posthog-js puts the key: in each event's properties (read by sdk/envelope.ts). */
const KEY_IN_PROPERTIES = 'token';

export function mapPosthog(body: unknown, ctx: AdapterContext): SdkBatch {
  let envelope: Record<string, unknown>;
  let entries: unknown[];
  if (Array.isArray(body)) {
    envelope = {};
    entries = body;
  } else if (isPlainObject(body)) {
    envelope = body;
    if (body.batch === undefined) entries = [body];
    else if (Array.isArray(body.batch)) entries = body.batch;
    else throw new EnvelopeError('batch', 'must be an array of events');
  } else {
    throw new EnvelopeError('', 'must be a JSON object or an array of events');
  }
  const sentAt = envelopeSentAt(envelope, 'sent_at');

  const messages = mapMessages(entries, (event): MappedEvent => {
    const eventId = deriveEventId('posthog', event.uuid, 'uuid');
    const properties = propertiesFrom(event.properties, 'properties');
    // posthog-js puts the project key in properties.token: a key field, never stored.
    delete properties[KEY_IN_PROPERTIES];
    // posthog-js puts distinct_id inside properties.
    const userId =
      idText(event.distinct_id, 'distinct_id') ??
      idText(properties.distinct_id, 'properties.distinct_id');
    if (userId === undefined) throw new MessageProblem('distinct_id', 'is required');
    const eventType = event.event;
    if (eventType === undefined || eventType === null) {
      throw new MessageProblem('event', 'is required');
    }
    // posthog-js sends person updates beside properties; PostHog's backend merges them in.
    addMissing(properties, '$set', event.$set);
    addMissing(properties, '$set_once', event.$set_once);

    return {
      event_id: eventId,
      occurred_at: occurredAt(ctx, event, sentAt),
      user_id: userId,
      event_type: eventType,
      properties,
    };
  });

  return { messages };
}

/**
 * `timestamp` (skew-corrected with `sent_at`); without one, PostHog's `offset` (how many ms
 * before sending the event happened); else received_at.
 */
function occurredAt(
  ctx: AdapterContext,
  event: Record<string, unknown>,
  sentAt: TimeField | undefined,
): string {
  const timestamp = timeField(event, 'timestamp');
  const offset = timeField(event, 'offset');
  if (timestamp === undefined && offset !== undefined) {
    // received_at - offset, as an epoch-ms time with no send time to correct with.
    return eventTimeFromEpochMs(ctx, offsetBefore(ctx.receivedAtMs, offset), undefined);
  }
  return eventTime(ctx, timestamp, sentAt);
}

function offsetBefore(receivedAtMs: number, offset: TimeField): TimeField {
  const ms = jsonNumber(offset.value)?.number;
  if (ms === undefined || !Number.isFinite(ms)) {
    throw new MessageProblem('offset', 'must be a number of milliseconds');
  }
  return { field: 'offset', value: receivedAtMs - ms };
}
