import { isPlainObject } from '../rules.js';
import {
  addLibrary,
  addMissing,
  deriveEventId,
  envelopeSentAt,
  eventTimeFromEpochMs,
  libraryFromSlashed,
  MessageProblem,
  mapMessages,
  propertiesFrom,
  timeField,
  userIdFrom,
} from './common.js';
import { type AdapterContext, EnvelopeError, type MappedEvent, type SdkBatch } from './types.js';

/**
 * Amplitude's HTTP API v2 (`@amplitude/analytics-node`), on /2/httpapi and /batch:
 * `{"api_key", "events": [event...], "options", "client_upload_time"}`.
 */

/**
 * Event fields that carry data but have no column of ours ($identify's person updates,
 * $groupidentify's group and its properties, groups attached to any event): kept in
 * properties under their Amplitude names, unless the client already used that name.
 */
const KEPT_FIELDS = ['user_properties', 'groups', 'group_properties'] as const;

export function mapAmplitude(body: unknown, ctx: AdapterContext): SdkBatch {
  if (!isPlainObject(body)) throw new EnvelopeError('', 'must be a JSON object');
  if (!Array.isArray(body.events)) throw new EnvelopeError('events', 'must be an array of events');
  // Amplitude's name for the client's send time: skew-corrected like Segment's sentAt.
  const sentAt = envelopeSentAt(body, 'client_upload_time');

  const messages = mapMessages(body.events, (event): MappedEvent => {
    const eventId = deriveEventId('amplitude', event.insert_id, 'insert_id');
    const userId = userIdFrom(event, ['user_id', 'device_id']);
    const eventType = event.event_type;
    if (eventType === undefined || eventType === null) {
      throw new MessageProblem('event_type', 'is required');
    }
    const properties = propertiesFrom(event.event_properties, 'event_properties');
    for (const field of KEPT_FIELDS) addMissing(properties, field, event[field] ?? undefined);
    addLibrary(properties, libraryFromSlashed(event.library));

    return {
      event_id: eventId,
      occurred_at: eventTimeFromEpochMs(ctx, timeField(event, 'time'), sentAt),
      user_id: userId,
      event_type: eventType,
      properties,
    };
  });

  return { messages };
}
