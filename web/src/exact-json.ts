/**
 * JSON with its numbers kept as written. The user timeline shows each event's properties as
 * stored, and a number such as 9007199254740993 or 1e400 would lose digits as a JavaScript
 * number; JSON.parse hands a reviver the source text of each number (Chromium 114+,
 * Firefox 135+, Safari 18.4+), and older browsers fall back to the parsed number.
 */

/** A JSON number as its source text. */
export class RawNumber {
  constructor(readonly text: string) {}
}

export type Exact = null | boolean | string | RawNumber | Exact[] | { [key: string]: Exact };

type Reviver = (key: string, value: unknown, context?: { source?: string }) => unknown;

export function parseExact(text: string): unknown {
  const reviver: Reviver = (_key, value, context) =>
    typeof value === 'number' ? new RawNumber(context?.source ?? String(value)) : value;
  return JSON.parse(text, reviver as (key: string, value: unknown) => unknown);
}

/** Compact JSON text, numbers as they came. */
export function stringifyExact(value: Exact): string {
  if (value instanceof RawNumber) return value.text;
  if (Array.isArray(value)) return `[${value.map(stringifyExact).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([key, item]) => `${JSON.stringify(key)}:${stringifyExact(item)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
