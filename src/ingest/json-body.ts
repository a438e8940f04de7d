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
// Bodies without one (nearly all) take the fast built-in parser. A JSON number starts after
// `:`, `,` or `[`, so text inside strings rarely matches (a UUID such as ...-e123-... would,
// anywhere); a false alarm only costs the slower exact parser.
const RISKY_NUMBER = /[:,[]\s*-?(?:[0-9][0-9.]{15}|[0-9.]+[eE][+-]?[0-9]{3})/;

/** The exact parser recurses; deeper bodies (pathological) are refused before it runs. */
export const MAX_EXACT_PARSE_DEPTH = 1000;

/** The deepest nesting of objects and arrays in JSON text, counted outside strings. */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

export class TooDeepError extends Error {}

function parseNumber(text: string): number | LosslessNumber {
  return isSafeNumber(text) ? Number(text) : new LosslessNumber(text);
}

/**
 * Parses JSON text; throws SyntaxError for invalid JSON, as JSON.parse does, and
 * TooDeepError for a body with long numbers nested deeper than MAX_EXACT_PARSE_DEPTH.
 */
export function parseJsonExactly(text: string): unknown {
  if (!RISKY_NUMBER.test(text)) return JSON.parse(text);
  if (nestingDepth(text) > MAX_EXACT_PARSE_DEPTH) {
    throw new TooDeepError(`the body is nested more than ${MAX_EXACT_PARSE_DEPTH} levels deep`);
  }
  return parseLossless(text, null, parseNumber);
}

/** The JSON text of a value parsed by parseJsonExactly, with every number as it was sent. */
export function toJsonText(value: unknown): string {
  return stringify(value) ?? 'null';
}

export { LosslessNumber };
