import { EventInput } from '../schemas/events.js';
import { LosslessNumber, toJsonText } from './json-body.js';
import {
  checkText as checkTextRule,
  isPlainObject,
  isUuid,
  MAX_EVENT_TYPE_CHARS,
  MAX_FUTURE_MS,
  MAX_PROPERTIES_BYTES,
  MAX_PROPERTIES_DEPTH,
  MAX_USER_ID_CHARS,
  RULES,
  textProblem,
} from './rules.js';
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

/** Unknown fields of one event listed by name; the rest are counted in one more detail. */
export const MAX_UNKNOWN_FIELDS_LISTED = 5;
/** A field name echoed back in an error is cut to this many characters. */
const MAX_ECHOED_NAME_CHARS = 64;

const KNOWN_FIELDS = new Set(Object.keys(EventInput.properties));
const UNKNOWN_FIELD = `is not a known field (expected ${[...KNOWN_FIELDS].join(', ')})`;

function checkText(
  errors: FieldError[],
  field: string,
  value: unknown,
  maxChars: number,
): string | undefined {
  const checked = checkTextRule(value, maxChars);
  if (checked.ok) return checked.text;
  errors.push({ field, message: checked.message });
  return undefined;
}

function echoedName(name: string): string {
  return name.length > MAX_ECHOED_NAME_CHARS
    ? `${name.slice(0, MAX_ECHOED_NAME_CHARS - 1)}…`
    : name;
}

/** Where a value sits in `properties`: a chain to the root, so each node costs O(1). */
interface Frame {
  value: unknown;
  depth: number;
  key: string | number | undefined;
  parent: Frame | undefined;
}

/** `properties.a.list[1]`, cut so a long path cannot blow up the answer. */
function pathText(frame: Frame): string {
  const parts: (string | number)[] = [];
  for (let f: Frame | undefined = frame; f?.key !== undefined; f = f.parent) parts.push(f.key);
  let text = 'properties';
  for (const part of parts.reverse()) {
    text += typeof part === 'number' ? `[${part}]` : `.${echoedName(part)}`;
    if (text.length > 200) return `${text.slice(0, 199)}…`;
  }
  return text;
}

/**
 * The first problem inside `properties` that JSON.stringify or jsonb would trip over: too
 * deep (JSON.stringify recurses and overflows the stack at a few thousand levels), a NUL
 * (jsonb cannot hold it) or a lone surrogate (jsonb refuses it, sinking the whole batch).
 * Iterative, so no input can overflow the stack here, and linear in the size of the input.
 */
function propertiesProblem(root: Record<string, unknown>): {
  problem?: string;
  exactNumbers: boolean;
} {
  let exactNumbers = false;
  const stack: Frame[] = [{ value: root, depth: 1, key: undefined, parent: undefined }];
  const problemAt = (text: string, at: Frame) => {
    const problem = textProblem(text);
    return problem && `${problem} (at ${pathText(at)})`;
  };
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const { value, depth } = frame;
    if (typeof value === 'string') {
      const problem = problemAt(value, frame);
      if (problem) return { problem, exactNumbers };
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (value instanceof LosslessNumber) {
      exactNumbers = true; // a number a double cannot hold: a leaf, written back as sent
      continue;
    }
    if (depth > MAX_PROPERTIES_DEPTH) {
      return { problem: RULES.tooDeep, exactNumbers };
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        stack.push({ value: value[i], depth: depth + 1, key: i, parent: frame });
      }
      continue;
    }
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      const child: Frame = {
        value: (value as Record<string, unknown>)[key],
        depth: depth + 1,
        key,
        parent: frame,
      };
      const problem = problemAt(key, child);
      if (problem) return { problem, exactNumbers };
      stack.push(child);
    }
  }
  return { exactNumbers };
}

/**
 * Properties are stored as jsonb; checking here turns what would be a database error for
 * the whole batch (or a stack overflow) into a 422 for this event.
 */
function checkProperties(errors: FieldError[], value: unknown): string | undefined {
  if (value === undefined || value === null) return '{}';
  if (!isPlainObject(value)) {
    errors.push({ field: 'properties', message: RULES.object });
    return undefined;
  }
  const { problem, exactNumbers } = propertiesProblem(value);
  if (problem !== undefined) {
    errors.push({ field: 'properties', message: problem });
    return undefined;
  }
  // The exact (slower) writer only where the parser kept a number as its text.
  const json = exactNumbers ? toJsonText(value) : JSON.stringify(value);
  if (Buffer.byteLength(json) > MAX_PROPERTIES_BYTES) {
    errors.push({ field: 'properties', message: RULES.tooLarge });
    return undefined;
  }
  return json;
}

/**
 * The one validator for events, shared by POST /events and the CSV importer. Reports
 * every problem of the event, one per field (unknown fields: the first
 * MAX_UNKNOWN_FIELDS_LISTED by name, then one detail counting the rest, so the answer and
 * the work stay bounded whatever the client sends). `nowMs` is when the batch arrived;
 * events more than 24 h after it are refused.
 */
export function validateEvent(input: unknown, nowMs: number): Validation {
  if (!isPlainObject(input)) {
    return { ok: false, errors: [{ field: '', message: 'must be a JSON object' }] };
  }
  const errors: FieldError[] = [];
  let unknown = 0;
  for (const key of Object.keys(input)) {
    if (KNOWN_FIELDS.has(key)) continue;
    unknown++;
    if (unknown <= MAX_UNKNOWN_FIELDS_LISTED) {
      errors.push({ field: echoedName(key), message: UNKNOWN_FIELD });
    }
  }
  if (unknown > MAX_UNKNOWN_FIELDS_LISTED) {
    errors.push({
      field: '(more)',
      message: `and ${unknown - MAX_UNKNOWN_FIELDS_LISTED} more unknown fields`,
    });
  }

  let eventId: string | undefined;
  const rawId = input.event_id;
  if (rawId === undefined || rawId === null)
    errors.push({ field: 'event_id', message: RULES.required });
  else if (typeof rawId !== 'string' || !isUuid(rawId.trim())) {
    errors.push({ field: 'event_id', message: RULES.uuid });
  } else eventId = rawId.trim().toLowerCase();

  let occurredAt: string | undefined;
  const rawAt = input.occurred_at;
  if (rawAt === undefined || rawAt === null)
    errors.push({ field: 'occurred_at', message: RULES.required });
  else if (typeof rawAt !== 'string') errors.push({ field: 'occurred_at', message: RULES.string });
  else {
    const parsed = parseTimestamp(rawAt);
    if (typeof parsed === 'string') errors.push({ field: 'occurred_at', message: parsed });
    else if (parsed.epochMs > nowMs + MAX_FUTURE_MS) {
      errors.push({ field: 'occurred_at', message: RULES.future });
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
