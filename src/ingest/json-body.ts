import { isSafeNumber, LosslessNumber, parse as parseLossless, stringify } from 'lossless-json';

/**
 * JSON as clients send it, without changing a single value.
 *
 * JSON.parse turns numbers into doubles: 9007199254740993 becomes ...992 and 1e400 becomes
 * Infinity (then `null` when written back). PostgreSQL's jsonb keeps any precision, so such
 * numbers are kept as LosslessNumber (their exact text) and written back verbatim by
 * toJsonText(). `__proto__` keys are ordinary data: both parsers create own properties, never
 * a prototype, and the write path never merges client objects with Object.assign.
 */

// A number of 16+ digits (with its dot) or a 3-digit exponent may not survive a double.
// Bodies without one (nearly all) take the fast built-in parser; a false alarm (a long digit
// run inside a string) only costs the slower exact parser.
const RISKY_NUMBER = /[0-9][0-9.]{15}|[eE][+-]?[0-9]{3}/;

function parseNumber(text: string): number | LosslessNumber {
  return isSafeNumber(text) ? Number(text) : new LosslessNumber(text);
}

/** Parses JSON text; throws SyntaxError for invalid JSON, as JSON.parse does. */
export function parseJsonExactly(text: string): unknown {
  if (!RISKY_NUMBER.test(text)) return JSON.parse(text);
  return parseLossless(text, null, parseNumber);
}

/** The JSON text of a value parsed by parseJsonExactly, with every number as it was sent. */
export function toJsonText(value: unknown): string {
  return stringify(value) ?? 'null';
}

export { LosslessNumber };
