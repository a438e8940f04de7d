import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkProperties } from '../../src/import/properties.js';
import { MAX_PROPERTIES_DEPTH, RULES } from '../../src/ingest/rules.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.close();
});

/** PostgreSQL as the oracle: does jsonb accept the text, and is the value the one written? */
async function jsonbAccepts(json: string): Promise<boolean> {
  try {
    await database.pool.query('SELECT $1::jsonb', [json]);
    return true;
  } catch (error) {
    expect((error as { code?: string }).code).toBe('22003'); // numeric value out of range
    return false;
  }
}

const digits = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });

/** JSON number tokens, with exponents near PostgreSQL's numeric limits. */
const numberToken = fc
  .record({
    sign: fc.constantFrom('', '-'),
    integer: fc.oneof(fc.constant('0'), fc.tuple(fc.constantFrom(...'123456789'), digits(0, 25))),
    fraction: fc.option(digits(1, 25), { nil: undefined }),
    exponent: fc.option(
      fc.oneof(
        fc.integer({ min: -30, max: 30 }),
        fc.integer({ min: -16_420, max: -16_350 }),
        fc.integer({ min: 131_030, max: 131_080 }),
        fc.integer({ min: -2_000_000, max: 2_000_000 }),
        fc.integer({ min: 2 ** 30 - 3, max: 2 ** 30 + 3 }),
      ),
      { nil: undefined },
    ),
    e: fc.constantFrom('e', 'E', 'e+'),
  })
  .map(({ sign, integer, fraction, exponent, e }) => {
    const int = typeof integer === 'string' ? integer : integer.join('');
    const frac = fraction === undefined ? '' : `.${fraction}`;
    const exp =
      exponent === undefined ? '' : exponent < 0 ? `e${exponent}` : `${e}${String(exponent)}`;
    return `${sign}${int}${frac}${exp}`;
  });

describe('checkProperties', () => {
  it('keeps every number exactly as written', async () => {
    const text = '{"id":9007199254740993,"n":1e400,"s":12345678901234567890123,"f":0.1000}';
    const result = checkProperties(text);
    expect(result).toEqual({ ok: true, json: text });
    const { rows } = await database.pool.query(
      `SELECT ($1::jsonb)->>'id' AS id, ($1::jsonb)->>'s' AS s, ($1::jsonb)->>'f' AS f,
              (($1::jsonb)->>'n')::numeric = 1e400::numeric AS n`,
      [result.ok ? result.json : ''],
    );
    expect(rows[0]).toEqual({
      id: '9007199254740993',
      s: '12345678901234567890123',
      f: '0.1000',
      n: true,
    });
    expect(checkProperties(' [1, 18446744073709551617] ')).toEqual({
      ok: true,
      json: '{"_value":[1, 18446744073709551617]}',
    });
  });

  it('accepts a number exactly when PostgreSQL can store it, and never rewrites it (oracle: jsonb)', async () => {
    await fc.assert(
      fc.asyncProperty(numberToken, async (token) => {
        // A string that looks like an out-of-range number must not count as one.
        const text = `{"s":"1e999999","n":${token},"a":[${token}]}`;
        const result = checkProperties(text);
        const accepted = await jsonbAccepts(text);
        if (result.ok) {
          expect(result.json).toBe(text);
          expect(accepted).toBe(true);
        } else {
          expect(result.message).toMatch(/^has the number .+, beyond what PostgreSQL can store/);
          // Refusing more than PostgreSQL is allowed only for a zero with an exponent from
          // 2^30 on, which some versions accept (PostgreSQL 16) and others refuse (15).
          const zero = /^-?[0.]+[eE]/.test(token);
          if (!zero) expect(accepted).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses what jsonb cannot hold, with the reason', () => {
    expect(checkProperties('{"a":"x\\u0000y"}')).toEqual({
      ok: false,
      message: 'must not contain NUL characters (\\u0000)',
    });
    expect(checkProperties('{"u\\ud800":1}')).toMatchObject({ ok: false, message: /surrogate/ });
    expect(checkProperties('{"a":["\\udc00"]}')).toMatchObject({ ok: false, message: /surrogate/ });
    expect(checkProperties('{"a":"\\ud83d\\ude00"}')).toEqual({
      ok: true,
      json: '{"a":"\\ud83d\\ude00"}',
    });
    const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    expect(checkProperties(deep(MAX_PROPERTIES_DEPTH)).ok).toBe(true);
    expect(checkProperties(deep(MAX_PROPERTIES_DEPTH + 1))).toEqual({
      ok: false,
      message: RULES.tooDeep,
    });
    expect(checkProperties(deep(100_000)).ok).toBe(false);
    expect(checkProperties(`{"a":"${'x'.repeat(40_000)}"}`)).toMatchObject({
      ok: false,
      message: /at most \d+ bytes/,
    });
  });

  it('keeps the importer rules for empty, non-object and invalid JSON', () => {
    expect(checkProperties('  ')).toEqual({ ok: true, json: '{}' });
    expect(checkProperties('42')).toEqual({ ok: true, json: '{"_value":42}' });
    expect(checkProperties('null')).toEqual({ ok: true, json: '{"_value":null}' });
    expect(checkProperties('{not json')).toEqual({ ok: true, json: '{"_raw":"{not json"}' });
  });
});
