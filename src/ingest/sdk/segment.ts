import { isPlainObject } from '../rules.js';
import {
  addLibrary,
  addMissing,
  deriveEventId,
  envelopeSentAt,
  eventTime,
  libraryFromContext,
  MessageProblem,
  mapMessages,
  propertiesFrom,
  type TimeField,
  timeField,
  userIdFrom,
} from './common.js';
import { type AdapterContext, EnvelopeError, type MappedEvent, type SdkBatch } from './types.js';

/**
 * The Segment tracking API (`@segment/analytics-node`, analytics.js), which RudderStack's
 * SDKs speak too: `{"batch": [message...], "sentAt", "writeKey"}` on /v1/batch, or one
 * message on /v1/track, /v1/identify... (the path gives its type).
 */

export const SEGMENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type SegmentType = (typeof SEGMENT_TYPES)[number];

/** PostHog's names for the non-track calls, so every SDK lands on the same vocabulary. */
const EVENT_TYPES: Record<Exclude<SegmentType, 'track'>, string> = {
  identify: '$identify',
  page: '$pageview',
  screen: '$screen',
  group: '$groupidentify',
  alias: '$create_alias',
};

/** identify and group carry their data in `traits`, the others in `properties`. */
const PROPERTIES_FIELD: Record<SegmentType, 'properties' | 'traits' | undefined> = {
  track: 'properties',
  identify: 'traits',
  page: 'properties',
  screen: 'properties',
  group: 'traits',
  alias: undefined,
};

/**
 * Top-level fields that mean something but have no column of ours: kept in properties under
 * their own names (unless the client already put that name there).
 */
const KEPT_FIELDS: Record<SegmentType, readonly string[]> = {
  track: [],
  identify: [],
  page: ['name', 'category'],
  screen: ['name', 'category'],
  group: ['groupId'],
  alias: ['previousId'],
};

function isSegmentType(value: unknown): value is SegmentType {
  return (SEGMENT_TYPES as readonly unknown[]).includes(value);
}

/**
 * Maps a Segment/RudderStack request body. `impliedType` is the type of a single-message
 * endpoint (/v1/track...); without it the body is a /v1/batch envelope.
 */
export function mapSegment(
  body: unknown,
  ctx: AdapterContext,
  impliedType?: SegmentType,
): SdkBatch {
  if (!isPlainObject(body)) throw new EnvelopeError('', 'must be a JSON object');
  let entries: unknown[];
  // A single message carries its own sentAt, read per message like RudderStack's.
  let sentAt: TimeField | undefined;
  if (impliedType === undefined) {
    if (!Array.isArray(body.batch))
      throw new EnvelopeError('batch', 'must be an array of messages');
    entries = body.batch;
    sentAt = envelopeSentAt(body, 'sentAt');
  } else entries = [body];
  // The HTTP API allows one `context` for the whole batch; a message's own wins.
  const envelopeLibrary = impliedType === undefined ? libraryFromContext(body.context) : undefined;

  const messages = mapMessages(entries, (message): MappedEvent => {
    const type = impliedType ?? message.type;
    if (!isSegmentType(type)) {
      throw new MessageProblem('type', `must be one of ${SEGMENT_TYPES.join(', ')}`);
    }
    const eventId = deriveEventId('segment', message.messageId, 'messageId');
    const userId = userIdFrom(message, ['userId', 'anonymousId']);

    let eventType: unknown;
    if (type === 'track') {
      eventType = message.event;
      if (eventType === undefined || eventType === null) {
        throw new MessageProblem('event', 'is required in a track message');
      }
    } else eventType = EVENT_TYPES[type];

    const propertiesField = PROPERTIES_FIELD[type];
    const properties =
      propertiesField === undefined
        ? {}
        : propertiesFrom(message[propertiesField], propertiesField);
    for (const field of KEPT_FIELDS[type]) addMissing(properties, field, message[field]);
    addLibrary(properties, libraryFromContext(message.context) ?? envelopeLibrary);

    // RudderStack always sets originalTimestamp, and timestamp only when the caller gave one.
    const timestamp = timeField(message, 'timestamp') ?? timeField(message, 'originalTimestamp');
    const messageSentAt = timeField(message, 'sentAt') ?? sentAt;

    return {
      event_id: eventId,
      occurred_at: eventTime(ctx, timestamp, messageSentAt),
      user_id: userId,
      event_type: eventType,
      properties,
    };
  });

  return { messages };
}
