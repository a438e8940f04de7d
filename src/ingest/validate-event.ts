import {
  EventInput,
  MAX_EVENT_TYPE_CHARS,
  MAX_FUTURE_MS,
  MAX_PROPERTIES_BYTES,
  MAX_USER_ID_CHARS,
} from '../schemas/events.js';
import { toJsonText } from './json-body.js';
import { parseTimestamp } from './timestamp.js';

/** An event that passed every rule, normalised for storage. */
export interface ValidEvent {
  event_id: string;
  /** Canonical UTC ISO text (microsecond precision kept). */
  occurred_at: string;
  user_id: string;
  event_type: string;
  /** JSON text of an object. */
  properties: string;
}

export interface FieldError {
  field: string;
  message: string;
}

export type Validation = { ok: true; event: ValidEvent } | { ok: false; errors: FieldError[] };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KNOWN_FIELDS = new Set(Object.keys(EventInput.properties));

/** A JSON object (not an array, and not a LosslessNumber holding an exact number). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function charLength(text: string): number {
  // PostgreSQL counts characters (code points), not UTF-16 units.
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function checkText(
  errors: FieldError[],
  field: string,
  value: unknown,
  maxChars: number,
): string | undefined {
  if (value === undefined || value === null) {
    errors.push({ field, message: 'is required' });
    return undefined;
  }
  if (typeof value !== 'string') {
    errors.push({ field, message: 'must be a string' });
    return undefined;
  }
  const trimmed = value.trim();
  if (trimmed === '') {
    errors.push({ field, message: 'must not be empty or blank' });
    return undefined;
  }
  if (charLength(trimmed) > maxChars) {
    errors.push({ field, message: `must be at most ${maxChars} characters` });
    return undefined;
  }
  if (trimmed.includes('\u0000')) {
    errors.push({ field, message: 'must not contain NUL characters' });
    return undefined;
  }
  return trimmed;
}

function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (isPlainObject(value)) {
    return Object.entries(value).some(([k, v]) => k.includes('\u0000') || containsNul(v));
  }
  return false;
}

/**
 * Properties are stored as jsonb, which cannot hold the NUL character in any string;
 * checking here turns what would be a database error for the whole batch into a 422 for
 * this event.
 */
function checkProperties(errors: FieldError[], value: unknown): string | undefined {
  if (value === undefined || value === null) return '{}';
  if (!isPlainObject(value)) {
    errors.push({ field: 'properties', message: 'must be a JSON object (or null)' });
    return undefined;
  }
  const json = toJsonText(value);
  if (Buffer.byteLength(json) > MAX_PROPERTIES_BYTES) {
    errors.push({
      field: 'properties',
      message: `must be at most ${MAX_PROPERTIES_BYTES} bytes of JSON`,
    });
    return undefined;
  }
  if (containsNul(value)) {
    errors.push({ field: 'properties', message: 'must not contain NUL characters (\\u0000)' });
    return undefined;
  }
  return json;
}

/**
 * The one validator for events, shared by POST /events and the CSV importer. Reports
 * every problem of the event, one per field. `nowMs` is when the batch arrived; events
 * more than 24 h after it are refused.
 */
export function validateEvent(input: unknown, nowMs: number): Validation {
  if (!isPlainObject(input)) {
    return { ok: false, errors: [{ field: '', message: 'must be a JSON object' }] };
  }
  const errors: FieldError[] = [];
  for (const key of Object.keys(input)) {
    if (!KNOWN_FIELDS.has(key)) {
      errors.push({
        field: key,
        message: `is not a known field (expected ${[...KNOWN_FIELDS].join(', ')})`,
      });
    }
  }

  let eventId: string | undefined;
  const rawId = input.event_id;
  if (rawId === undefined || rawId === null)
    errors.push({ field: 'event_id', message: 'is required' });
  else if (typeof rawId !== 'string' || !UUID.test(rawId.trim())) {
    errors.push({
      field: 'event_id',
      message: 'must be a UUID such as 6d1d4fae-7dec-11d0-a765-00a0c91e6bf6',
    });
  } else eventId = rawId.trim().toLowerCase();

  let occurredAt: string | undefined;
  const rawAt = input.occurred_at;
  if (rawAt === undefined || rawAt === null)
    errors.push({ field: 'occurred_at', message: 'is required' });
  else if (typeof rawAt !== 'string')
    errors.push({ field: 'occurred_at', message: 'must be a string' });
  else {
    const parsed = parseTimestamp(rawAt);
    if (typeof parsed === 'string') errors.push({ field: 'occurred_at', message: parsed });
    else if (parsed.epochMs > nowMs + MAX_FUTURE_MS) {
      errors.push({ field: 'occurred_at', message: 'is more than 24 hours in the future' });
    } else occurredAt = parsed.iso;
  }

  const userId = checkText(errors, 'user_id', input.user_id, MAX_USER_ID_CHARS);
  const eventType = checkText(errors, 'event_type', input.event_type, MAX_EVENT_TYPE_CHARS);
  const properties = checkProperties(errors, input.properties);

  if (
    errors.length > 0 ||
    eventId === undefined ||
    occurredAt === undefined ||
    userId === undefined ||
    eventType === undefined ||
    properties === undefined
  ) {
    return { ok: false, errors };
  }
  return {
    ok: true,
    event: {
      event_id: eventId,
      occurred_at: occurredAt,
      user_id: userId,
      event_type: eventType,
      properties,
    },
  };
}
