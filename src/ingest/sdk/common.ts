import { randomUUID } from 'node:crypto';
import { v5 as uuidV5 } from 'uuid';
import { LosslessNumber } from '../json-body.js';
import { isPlainObject, isUuid, RULES } from '../rules.js';
import { parseTimestamp } from '../timestamp.js';
import {
  type AdapterContext,
  EnvelopeError,
  type MappedEvent,
  type MappedMessage,
  type SdkFamily,
  UnparsableMessage,
} from './types.js';

/**
 * Helpers every SDK adapter shares: derived event ids, event times with clock-skew
 * correction, `$lib`, and the per-message error plumbing.
 */

/**
 * A JSON number: a number, or (in a body holding numbers a double cannot keep) a
 * LosslessNumber, whose exact text `text` returns.
 */
export function jsonNumber(value: unknown): { number: number; text: string } | undefined {
  if (typeof value === 'number') return { number: value, text: String(value) };
  if (value instanceof LosslessNumber) {
    return { number: Number(value.toString()), text: value.toString() };
  }
  return undefined;
}

/** Something wrong with one message of a batch: that message is skipped, not the batch. */
export class MessageProblem extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'MessageProblem';
  }
}

/**
 * Maps each entry of an SDK batch with `mapOne`; an entry that is not an object, or whose
 * mapping throws a MessageProblem, becomes a per-message error at its index.
 */
export function mapMessages(
  entries: readonly unknown[],
  mapOne: (message: Record<string, unknown>) => MappedEvent,
): MappedMessage[] {
  return entries.map((entry, index): MappedMessage => {
    if (entry instanceof UnparsableMessage) {
      return { index, ok: false, field: '', message: entry.reason };
    }
    if (!isPlainObject(entry)) {
      return { index, ok: false, field: '', message: 'must be a JSON object' };
    }
    try {
      return { index, ok: true, event: mapOne(entry) };
    } catch (error) {
      if (error instanceof MessageProblem) {
        return { index, ok: false, field: error.field, message: error.message };
      }
      throw error;
    }
  });
}

/** A non-empty string (as sent), or undefined when the client left the field out. */
export function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * An identifier field (user or message id): strings trimmed (one rule for every id, as
 * POST /events trims: " X" and "X" are one id), finite numbers as their decimal text
 * (hand-written clients send numeric ids; PostHog's own backend does the same), undefined
 * when absent, null or blank. Anything else, or a string with a lone UTF-16 surrogate
 * (PostgreSQL would store U+FFFD and merge distinct ids; a UUIDv5 of it cannot be
 * computed), is the client's mistake: that message is skipped.
 */
export function idText(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  // A 64-bit numeric id keeps all its digits: rounding it to a double would merge users.
  const number = jsonNumber(value);
  if (number !== undefined && Number.isFinite(number.number)) return number.text;
  if (typeof value !== 'string') throw new MessageProblem(field, RULES.string);
  const trimmed = value.trim();
  if (!trimmed.isWellFormed()) throw new MessageProblem(field, RULES.loneSurrogate);
  return trimmed === '' ? undefined : trimmed;
}

/** The first of the fields present, else a per-message error naming all of them. */
export function userIdFrom(message: Record<string, unknown>, fields: readonly string[]): string {
  for (const field of fields) {
    const id = idText(message[field], field);
    if (id !== undefined) return id;
  }
  const [first = '', ...rest] = fields;
  const alternatives = rest.length > 0 ? ` (or ${rest.join(', ')})` : '';
  throw new MessageProblem(first, `is required${alternatives}`);
}

/**
 * Root namespace of derived event ids. Fixed forever: changing it would give every retried
 * non-UUID message a new id and store it twice.
 */
export const SDK_EVENT_ID_NAMESPACE = '9f3c2b6e-5d0a-4c1e-8b7f-2a6d4e8c1f05';

const FAMILY_NAMESPACES: Record<SdkFamily, string> = {
  segment: uuidV5('segment', SDK_EVENT_ID_NAMESPACE),
  posthog: uuidV5('posthog', SDK_EVENT_ID_NAMESPACE),
  amplitude: uuidV5('amplitude', SDK_EVENT_ID_NAMESPACE),
};

/**
 * Our event id for an SDK message id (trimmed, see idText): a UUID as is (lower-cased); any
 * other text a UUIDv5 of (family, id), so a retry of the same message maps to the same
 * event and is stored once; no id at all a fresh random UUID (nothing to deduplicate on,
 * as with the SDK's own backend).
 */
export function deriveEventId(family: SdkFamily, value: unknown, field: string): string {
  const id = idText(value, field);
  if (id === undefined) return randomUUID();
  if (isUuid(id)) return id.toLowerCase();
  return uuidV5(id, FAMILY_NAMESPACES[family]);
}

/** An instant in microseconds since the epoch (BigInt: years 0001-9999 exceed 2^53 us). */
type Micros = bigint;

function parseMicros(text: unknown, field: string): { micros: Micros; text: string } {
  if (typeof text !== 'string') {
    throw new MessageProblem(field, 'must be an ISO 8601 date-time string');
  }
  const parsed = parseTimestamp(text);
  if (typeof parsed === 'string') throw new MessageProblem(field, parsed);
  // parsed.iso always has six fractional digits: the last three are the sub-millisecond part.
  const micros = BigInt(parsed.epochMs) * 1000n + BigInt(parsed.iso.slice(23, 26));
  return { micros, text };
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** ISO text with microseconds, or undefined outside years 0001-9999. */
function formatMicros(micros: Micros): string | undefined {
  const ms = floorDiv(micros, 1000n);
  const date = new Date(Number(ms));
  if (Number.isNaN(date.getTime())) return undefined;
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999) return undefined;
  const sub = String(micros - ms * 1000n).padStart(3, '0');
  return `${date.toISOString().slice(0, 23)}${sub}Z`;
}

export interface TimeField {
  /** The SDK's name of the field, for error messages. */
  field: string;
  value: unknown;
}

/**
 * The event's time: the client's timestamp (ISO 8601 text), corrected for the client's
 * clock skew when it says when it sent the request, the way Segment documents it:
 * occurred_at = received_at - (sent_at - timestamp). Without a send time the client's text
 * passes through unchanged (microseconds kept); without a timestamp, received_at.
 */
export function eventTime(
  ctx: AdapterContext,
  timestamp: TimeField | undefined,
  sentAt: TimeField | undefined,
): string {
  if (timestamp === undefined) return new Date(ctx.receivedAtMs).toISOString();
  const at = parseMicros(timestamp.value, timestamp.field);
  if (sentAt === undefined) return at.text;
  const sent = parseMicros(sentAt.value, sentAt.field);
  return correctedTime(ctx, at.micros, sent.micros, timestamp.field);
}

/** Like eventTime for a timestamp that is a number of epoch milliseconds (Amplitude). */
export function eventTimeFromEpochMs(
  ctx: AdapterContext,
  timestamp: TimeField | undefined,
  sentAt: TimeField | undefined,
): string {
  if (timestamp === undefined) return new Date(ctx.receivedAtMs).toISOString();
  const { field } = timestamp;
  const value = jsonNumber(timestamp.value)?.number;
  if (value === undefined || !Number.isFinite(value)) {
    throw new MessageProblem(field, 'must be a number of milliseconds since the epoch');
  }
  const micros = BigInt(Math.round(value * 1000));
  if (sentAt === undefined) {
    const text = formatMicros(micros);
    if (text === undefined) throw new MessageProblem(field, 'is out of range (years 0001-9999)');
    return text;
  }
  const sent = parseMicros(sentAt.value, sentAt.field);
  return correctedTime(ctx, micros, sent.micros, field);
}

function correctedTime(ctx: AdapterContext, at: Micros, sent: Micros, field: string): string {
  const corrected = BigInt(Math.round(ctx.receivedAtMs)) * 1000n - (sent - at);
  const text = formatMicros(corrected);
  if (text === undefined) {
    throw new MessageProblem(
      field,
      'is out of range (years 0001-9999) after clock-skew correction',
    );
  }
  return text;
}

/** `record[field]` as a TimeField, or undefined when absent or null. */
export function timeField(record: Record<string, unknown>, field: string): TimeField | undefined {
  const value = record[field];
  return value === undefined || value === null ? undefined : { field, value };
}

/**
 * The client's send time, checked once per request: a send time that is not a date-time
 * would silently skew every event, so the envelope is refused instead.
 */
export function envelopeSentAt(
  envelope: Record<string, unknown>,
  field: string,
): TimeField | undefined {
  const sentAt = timeField(envelope, field);
  if (sentAt === undefined) return undefined;
  const { value } = sentAt;
  const parsed = typeof value === 'string' ? parseTimestamp(value) : 'must be an ISO 8601 string';
  if (typeof parsed === 'string') throw new EnvelopeError(field, parsed);
  return sentAt;
}

export interface Library {
  name: string;
  version: string | undefined;
}

/** Segment/RudderStack `context.library`: `{name, version}`. */
export function libraryFromContext(context: unknown): Library | undefined {
  if (!isPlainObject(context) || !isPlainObject(context.library)) return undefined;
  const name = optionalString(context.library.name);
  if (name === undefined) return undefined;
  return { name, version: optionalString(context.library.version) };
}

/** Amplitude `library`: `"amplitude-node-ts/1.5.73"`. */
export function libraryFromSlashed(text: unknown): Library | undefined {
  const value = optionalString(text);
  if (value === undefined) return undefined;
  const slash = value.lastIndexOf('/');
  if (slash <= 0) return { name: value, version: undefined };
  return { name: value.slice(0, slash), version: optionalString(value.slice(slash + 1)) };
}

/**
 * The message's properties object (`field` names it in errors): absent or null is `{}`,
 * anything but an object is a per-message error. Returns a copy the caller may extend.
 */
export function propertiesFrom(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw new MessageProblem(field, RULES.object);
  return { ...value };
}

/** Adds `key` unless the client already put that key in properties: theirs always wins. */
export function addMissing(properties: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined && !Object.hasOwn(properties, key)) properties[key] = value;
}

/** `$lib` / `$lib_version` (PostHog's names, so every SDK reads the same). */
export function addLibrary(
  properties: Record<string, unknown>,
  library: Library | undefined,
): void {
  if (library === undefined) return;
  addMissing(properties, '$lib', library.name);
  addMissing(properties, '$lib_version', library.version);
}
