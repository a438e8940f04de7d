import { describe, expect, it } from 'vitest';
import {
  LosslessNumber,
  MAX_EXACT_PARSE_DEPTH,
  parseJsonExactly,
  TooDeepError,
  toJsonText,
} from '../../src/ingest/json-body.js';

describe('parseJsonExactly', () => {
  it('keeps numbers a double cannot hold as their exact text', () => {
    const text = '{"a":9007199254740993,"b":1e400,"c":-1.5e-320,"d":12345678.123456789,"e":0.1}';
    const value = parseJsonExactly(text) as Record<string, unknown>;
    expect(value.a).toBeInstanceOf(LosslessNumber);
    expect(value.e).toBe(0.1);
    expect(toJsonText(value)).toBe(text);
  });

  it('takes the built-in parser when no number is at risk, even if strings look like one', () => {
    // A UUID with "e123" and a long digit run inside strings are not numbers.
    const text =
      '{"id":"6d1d4fae-7dec-11d0-e123-00a0c91e6bf6","s":"x1234567890123456789","n":12.5}';
    expect(parseJsonExactly(text)).toEqual(JSON.parse(text));
  });

  it('refuses a body with long numbers nested deeper than the exact parser can go', () => {
    const deep = `{"n":1e400,"a":${'['.repeat(MAX_EXACT_PARSE_DEPTH + 1)}${']'.repeat(MAX_EXACT_PARSE_DEPTH + 1)}}`;
    expect(() => parseJsonExactly(deep)).toThrow(TooDeepError);
    // Without a long number the built-in parser (not recursive) takes any depth.
    const plain = `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(() => parseJsonExactly(plain)).not.toThrow();
    // Brackets inside strings do not count.
    const inString = `{"n":1e400,"s":"${'['.repeat(5000)}"}`;
    expect(toJsonText(parseJsonExactly(inString))).toBe(inString);
  });

  it('treats __proto__ as an ordinary key on both paths', () => {
    for (const text of ['{"__proto__":{"polluted":1}}', '{"__proto__":{"polluted":1e400}}']) {
      const value = parseJsonExactly(text) as Record<string, unknown>;
      expect(Object.keys(value)).toEqual(['__proto__']);
      expect(toJsonText(value)).toBe(text);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
  });
});
