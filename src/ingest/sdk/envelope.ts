import { parseJsonExactly, TooDeepError } from '../json-body.js';
import { type ArrayOutline, type JsonRange, JsonScanner } from '../json-outline.js';
import { UnparsableMessage } from './types.js';

/**
 * What an SDK request body holds, read from its text before it is parsed (json-outline.ts):
 * the key the client put in it and how many messages it carries. SDK routes authenticate
 * and cap the batch with this, so a request without a valid key, or with too many
 * messages, costs one pass over its text and no parse (issue 19, finding 1).
 */

/** The envelopes the SDK routes take. */
export type EnvelopeKind =
  /** Segment / RudderStack /v1/batch: `{"batch": [...], "writeKey"}`. */
  | 'segment-batch'
  /** Segment /v1/track, /v1/identify...: the body is one message (`writeKey` in it). */
  | 'segment-single'
  /** PostHog: `{"api_key"|"token", "batch": [...]}`, an array of events, or one event. */
  | 'posthog'
  /** Amplitude: `{"api_key", "events": [...]}`. */
  | 'amplitude'
  /** /batch: Amplitude's when `events` is an array, else PostHog's. */
  | 'amplitude-or-posthog';

export interface EnvelopeOutline {
  family: 'segment' | 'posthog' | 'amplitude';
  /** The key in the body (writeKey, api_key, token; posthog-js: the first event's), if any. */
  key: string | undefined;
  /** Messages the body carries: its batch's elements, or 1 for a single message. */
  count: number;
  /** Where the messages are: the batch array (`member` of the body, or the body itself). */
  batch: { member: string | undefined; range: JsonRange } | undefined;
  /** Objects and arrays in the whole body. */
  containers: number;
  /** Values and members in the whole body (roughly: its commas and colons). */
  separators: number;
}

const SEGMENT_KEY = ['writeKey'];
const AMPLITUDE_KEY = ['api_key'];
/** posthog-node: `api_key` on the envelope; `token` also goes (both also on each event). */
const POSTHOG_KEYS = ['api_key', 'token'];
/** posthog-js: the key in each event's properties. */
const POSTHOG_PROPERTIES_KEY = 'token';

/** The first of `fields` whose value is a non-empty string (as optionalString reads it). */
function firstKey(
  scanner: JsonScanner,
  members: Map<string, JsonRange> | undefined,
  fields: readonly string[],
): string | undefined {
  for (const field of fields) {
    const range = members?.get(field);
    const value = range && scanner.stringAt(range);
    if (value) return value;
  }
  return undefined;
}

/** Members of a PostHog event that may hold its key. */
const POSTHOG_EVENT_FIELDS = [...POSTHOG_KEYS, 'properties'];

/**
 * A PostHog event's key from its members: `api_key`, `token`, else `properties.token`
 * (posthog-js). Its properties are read again, once, by a scanner of their own (so the
 * body's totals count them once).
 */
function posthogEventKey(body: Uint8Array, members: Map<string, JsonRange> | undefined) {
  const scanner = new JsonScanner(body);
  const own = firstKey(scanner, members, POSTHOG_KEYS);
  if (own !== undefined) return own;
  const properties = members?.get('properties');
  if (properties === undefined) return undefined;
  const inProperties = scanner.objectMembers(properties.start, [POSTHOG_PROPERTIES_KEY]);
  return firstKey(scanner, inProperties, [POSTHOG_PROPERTIES_KEY]);
}

/** The key of the event at `range` (a batch's first): its text is read once more. */
function firstEventKey(body: Uint8Array, range: JsonRange | undefined): string | undefined {
  if (range === undefined) return undefined;
  return posthogEventKey(
    body,
    new JsonScanner(body).objectMembers(range.start, POSTHOG_EVENT_FIELDS),
  );
}

function familyOf(kind: EnvelopeKind, hasEventsArray: boolean): EnvelopeOutline['family'] {
  if (kind === 'segment-batch' || kind === 'segment-single') return 'segment';
  if (kind === 'amplitude' || (kind === 'amplitude-or-posthog' && hasEventsArray)) {
    return 'amplitude';
  }
  return 'posthog';
}

/** Outlines an SDK request body (its UTF-8 bytes) of the given kind (see EnvelopeKind). */
export function outlineEnvelope(body: Uint8Array, kind: EnvelopeKind): EnvelopeOutline {
  const scanner = new JsonScanner(body);
  const start = scanner.skipSpace(0);
  const totals = () => ({ containers: scanner.containers, separators: scanner.separators });

  if (body[start] === 0x5b /* [ */) {
    const array = scanner.arrayElements(start);
    const family = familyOf(kind, false);
    // A JSON array is only PostHog's (posthog-js sends its events so); the others refuse it.
    if (family !== 'posthog')
      return { family, key: undefined, count: 0, batch: undefined, ...totals() };
    return {
      family,
      key: firstEventKey(body, array.first),
      count: array.count,
      batch: { member: undefined, range: array },
      ...totals(),
    };
  }

  const arrays = new Map<string, ArrayOutline & JsonRange>();
  const members = scanner.objectMembers(
    start,
    [...SEGMENT_KEY, ...POSTHOG_EVENT_FIELDS, 'batch', 'events'],
    ['batch', 'events'],
    (name, outline) => arrays.set(name, outline),
  );
  if (members === undefined && start < body.length) scanner.valueEnd(start); // counted all the same
  // The array of the member's last occurrence (JSON.parse keeps the last one).
  const arrayOf = (name: string) => {
    const range = members?.get(name);
    const outline = arrays.get(name);
    return range && outline && outline.start === range.start ? outline : undefined;
  };
  const batchOf = (member: string) => {
    const outline = arrayOf(member);
    return outline && { member, range: outline };
  };

  const family = familyOf(kind, arrayOf('events') !== undefined);
  if (family === 'segment') {
    const single = kind === 'segment-single';
    return {
      family,
      key: firstKey(scanner, members, SEGMENT_KEY),
      count: single ? (members ? 1 : 0) : (arrayOf('batch')?.count ?? 0),
      batch: single ? undefined : batchOf('batch'),
      ...totals(),
    };
  }
  if (family === 'amplitude') {
    return {
      family,
      key: firstKey(scanner, members, AMPLITUDE_KEY),
      count: arrayOf('events')?.count ?? 0,
      batch: batchOf('events'),
      ...totals(),
    };
  }
  // PostHog: a batch envelope, or one event (no `batch` member at all).
  if (members?.has('batch')) {
    const batch = arrayOf('batch');
    return {
      family,
      key: firstKey(scanner, members, POSTHOG_KEYS) ?? firstEventKey(body, batch?.first),
      count: batch?.count ?? 0,
      batch: batchOf('batch'),
      ...totals(),
    };
  }
  return {
    family,
    key: posthogEventKey(body, members),
    count: members ? 1 : 0,
    batch: undefined,
    ...totals(),
  };
}

/**
 * Parses an SDK body (`text` is `body` decoded) exactly (parseJsonExactly). A body whose
 * exact parse is refused as too deep (a message nested deeper than the exact parser may
 * go, with a long number anywhere in the body) is parsed message by message instead, so
 * only the too-deep messages are lost: each becomes an UnparsableMessage, which the
 * adapters skip with the reason (issue 19, finding 8). A single-message body has nothing
 * else to keep: it stays a TooDeepError (422).
 */
export function parseEnvelope(text: string, body: Uint8Array, outline: EnvelopeOutline): unknown {
  try {
    return parseJsonExactly(text);
  } catch (error) {
    if (!(error instanceof TooDeepError) || outline.batch === undefined) throw error;
  }
  const { member, range } = outline.batch;
  const scanner = new JsonScanner(body);
  const ranges: JsonRange[] = [];
  scanner.arrayElements(range.start, ranges);
  const messages = ranges.map((message) => {
    try {
      return parseJsonExactly(scanner.textAt(message));
    } catch (error) {
      if (error instanceof TooDeepError) return new UnparsableMessage(error.message);
      throw error;
    }
  });
  if (member === undefined) return messages;
  const before = scanner.textAt({ start: 0, end: range.start });
  const after = scanner.textAt({ start: range.end, end: body.length });
  const envelope = parseJsonExactly(`${before}[]${after}`);
  (envelope as Record<string, unknown>)[member] = messages;
  return envelope;
}
