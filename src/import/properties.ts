import { MAX_PROPERTIES_BYTES, MAX_PROPERTIES_DEPTH, RULES, textProblem } from '../ingest/rules.js';

// Deeper JSON is refused: PostgreSQL's jsonb parser and our own walk recurse per level.

// PostgreSQL numeric (which jsonb stores numbers as) holds up to 131072 digits before the
// point and 16383 after it; a number beyond either fails the whole batch's transaction.
const MAX_INTEGER_DIGITS = 131_072;
const MAX_FRACTION_DIGITS = 16_383;
// PostgreSQL 15 refuses exponents from INT_MAX / 2 on, even for zero (16 accepts zero).
const MAX_EXPONENT = 2 ** 30 - 1;

export type PropertiesCheck = { ok: true; json: string } | { ok: false; message: string };

// Over already-valid JSON, strings and numbers alternate with punctuation and literals
// (which hold no digits), so this finds every number outside strings.
const STRING_OR_NUMBER = /"(?:[^"\\]|\\.)*"|-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?/g;
// A number can only break PostgreSQL's limits with an exponent of 4+ digits or a run of
// thousands of digits; rows without either skip the exact scan.
const MAYBE_OUT_OF_RANGE = /[eE][+-]?\d{4}|\d{15000}/;

/** The first number PostgreSQL's numeric cannot hold, if any (its limits, numeric.c). */
function numberOutOfRange(json: string): string | undefined {
  for (const match of json.matchAll(STRING_OR_NUMBER)) {
    const [token, integer, fraction = '', exponentText = '0'] = match;
    if (integer === undefined) continue; // a string
    const exponent = Number(exponentText);
    const firstSignificant = (integer + fraction).search(/[1-9]/);
    // Digits before the point: the power of ten of the first significant digit, plus one
    // (none for zero, whatever its exponent).
    const integerDigits =
      firstSignificant === -1 ? 0 : integer.length - firstSignificant + exponent;
    const fractionDigits = fraction.length - exponent;
    if (
      Math.abs(exponent) >= MAX_EXPONENT ||
      integerDigits > MAX_INTEGER_DIGITS ||
      fractionDigits > MAX_FRACTION_DIGITS
    ) {
      return token.length > 40 ? `${token.slice(0, 37)}...` : token;
    }
  }
  return undefined;
}

/** Why a parsed value cannot be stored as jsonb (NUL, lone surrogate, depth), if it cannot. */
function unstorable(value: unknown, depth: number): string | undefined {
  if (typeof value === 'string') return textProblem(value);
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth > MAX_PROPERTIES_DEPTH) return RULES.tooDeep;
  const entries = Array.isArray(value) ? value : Object.entries(value).flat();
  for (const item of entries) {
    const reason = unstorable(item, depth + 1);
    if (reason) return reason;
  }
  return undefined;
}

function countNesting(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) n++; // { [
  }
  return n;
}

/**
 * properties_json as the importer stores it: empty -> {}; a JSON object as written; other
 * valid JSON wrapped as {"_value": ...}; text that is not JSON kept as {"_raw": "..."}, so
 * no row is lost over its properties.
 *
 * Valid JSON is sent to PostgreSQL as the text of the file, never re-serialised from a
 * JavaScript value, so numbers keep every digit (9007199254740993, 1e400); JSON.parse only
 * checks it. What jsonb cannot hold is refused with a reason, never altered.
 */
export function checkProperties(text: string): PropertiesCheck {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: true, json: '{}' };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (error) {
    // V8 gives up on very deep nesting with a RangeError: that is JSON we will not store.
    if (!(error instanceof SyntaxError)) return { ok: false, message: RULES.tooDeep };
    if (text.includes('\u0000')) return { ok: false, message: RULES.nul };
    return { ok: true, json: JSON.stringify({ _raw: text }) };
  }
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
  const json = isObject ? trimmed : `{"_value":${trimmed}}`;
  if (Buffer.byteLength(json) > MAX_PROPERTIES_BYTES) return { ok: false, message: RULES.tooLarge };
  // NUL and lone surrogates can only come from \u escapes (the file is decoded from UTF-8),
  // and depth needs brackets: most rows have neither and skip the walk.
  if (trimmed.includes('\\u') || countNesting(trimmed) > MAX_PROPERTIES_DEPTH) {
    const reason = unstorable(value, isObject ? 1 : 2);
    if (reason) return { ok: false, message: reason };
  }
  if (MAYBE_OUT_OF_RANGE.test(trimmed)) {
    const number = numberOutOfRange(trimmed);
    if (number)
      return {
        ok: false,
        message: `has the number ${number}, beyond what PostgreSQL can store (${MAX_INTEGER_DIGITS} digits before the point, ${MAX_FRACTION_DIGITS} after)`,
      };
  }
  return { ok: true, json };
}
