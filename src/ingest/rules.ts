/**
 * The one set of event rules: every limit an event must keep and the one message each
 * broken rule gives, whichever way the event came (POST /events, an SDK adapter, the CSV
 * importer). validate-event.ts applies them to a parsed event; the importer applies them
 * to properties_json text (src/import/properties.ts); the SDK adapters use the shared
 * checks for ids. The TypeBox schema of an event (src/schemas/events.ts) documents the
 * same limits from here.
 */

export const MAX_USER_ID_CHARS = 256;
export const MAX_EVENT_TYPE_CHARS = 128;
/** Bytes of a properties object's JSON text. */
export const MAX_PROPERTIES_BYTES = 32 * 1024;
/** Nesting of objects and arrays in properties (the object itself is level 1). */
export const MAX_PROPERTIES_DEPTH = 64;
/** An event may be at most this far ahead of the moment its batch arrived. */
export const MAX_FUTURE_MS = 24 * 60 * 60 * 1000;

/** One message per rule. Fields are named by the caller (`user_id`, `properties_json`...). */
export const RULES = {
  required: 'is required',
  string: 'must be a string',
  blank: 'must not be empty or blank',
  tooLong: (max: number) => `must be at most ${max} characters`,
  nul: 'must not contain NUL characters (\\u0000)',
  loneSurrogate: 'must not contain a lone UTF-16 surrogate (\\ud800)',
  uuid: 'must be a UUID such as 6d1d4fae-7dec-11d0-a765-00a0c91e6bf6',
  object: 'must be a JSON object (or null)',
  tooDeep: `must not be nested more than ${MAX_PROPERTIES_DEPTH} levels deep`,
  tooLarge: `must be at most ${MAX_PROPERTIES_BYTES} bytes of JSON`,
  future: 'is more than 24 hours in the future',
  outsideRetention: (horizon: string) =>
    `is before the project's raw retention horizon (${horizon}): its summaries could no longer be kept exact (outside_retention)`,
} as const;

declare global {
  interface String {
    /** ES2024; Node >= 20. False when the string holds a lone UTF-16 surrogate. */
    isWellFormed(): boolean;
  }
}

/** A JSON object as the body parsers build them (not an array, not a LosslessNumber). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

// Any version, any variant.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(text: string): boolean {
  return UUID.test(text);
}

/** Characters as PostgreSQL counts them (code points), not UTF-16 units. */
export function charLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * What jsonb and text columns cannot hold exactly: a NUL, or a lone UTF-16 surrogate
 * (PostgreSQL would store U+FFFD, merging distinct ids, or refuse the whole batch).
 */
export function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return RULES.nul;
  if (!text.isWellFormed()) return RULES.loneSurrogate;
  return undefined;
}

/**
 * A required text field (user_id, event_type): trimmed, not blank, at most `maxChars`
 * characters, storable. The trimmed text, or the message of the first rule it breaks.
 */
export function checkText(
  value: unknown,
  maxChars: number,
): { ok: true; text: string } | { ok: false; message: string } {
  if (value === undefined || value === null) return { ok: false, message: RULES.required };
  if (typeof value !== 'string') return { ok: false, message: RULES.string };
  const trimmed = value.trim();
  if (trimmed === '') return { ok: false, message: RULES.blank };
  if (charLength(trimmed) > maxChars) return { ok: false, message: RULES.tooLong(maxChars) };
  const problem = textProblem(trimmed);
  if (problem) return { ok: false, message: problem };
  return { ok: true, text: trimmed };
}

/**
 * The retention horizon rule: an event older than its project's horizon (now minus the
 * project's raw_retention_days) is refused, because its raw row would expire at once and
 * the summaries of its days could no longer be kept exact. The message, or undefined.
 */
export function outsideRetention(
  epochMs: number,
  retentionDays: number | undefined,
  nowMs: number,
): string | undefined {
  if (retentionDays === undefined) return undefined;
  const horizon = nowMs - retentionDays * 86_400_000;
  return epochMs < horizon ? RULES.outsideRetention(new Date(horizon).toISOString()) : undefined;
}
