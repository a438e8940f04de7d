import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type EnvelopeKind,
  outlineEnvelope,
  parseEnvelope,
} from '../../../src/ingest/sdk/envelope.js';
import { UnparsableMessage } from '../../../src/ingest/sdk/types.js';

/**
 * The outline of an SDK body (read from its bytes, before any parse) against an oracle:
 * the same rules applied to JSON.parse of the same text.
 */

const KINDS: EnvelopeKind[] = [
  'segment-batch',
  'segment-single',
  'posthog',
  'amplitude',
  'amplitude-or-posthog',
];

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
const eventKey = (e: unknown) =>
  isObject(e)
    ? (str(e.api_key) ??
      str(e.token) ??
      (isObject(e.properties) ? str(e.properties.token) : undefined))
    : undefined;

/** What the outline must say, from the parsed body. */
function oracle(body: unknown, kind: EnvelopeKind): { key?: string; count: number } {
  const segment = kind === 'segment-batch' || kind === 'segment-single';
  if (Array.isArray(body)) {
    if (segment || kind === 'amplitude') return { count: 0 };
    return { key: eventKey(body[0]), count: body.length };
  }
  if (!isObject(body)) return { count: 0 };
  if (kind === 'segment-single') return { key: str(body.writeKey), count: 1 };
  if (kind === 'segment-batch') {
    return { key: str(body.writeKey), count: Array.isArray(body.batch) ? body.batch.length : 0 };
  }
  if (kind === 'amplitude' || (kind === 'amplitude-or-posthog' && Array.isArray(body.events))) {
    return { key: str(body.api_key), count: Array.isArray(body.events) ? body.events.length : 0 };
  }
  if (Object.hasOwn(body, 'batch')) {
    const batch = Array.isArray(body.batch) ? body.batch : undefined;
    return {
      key: str(body.api_key) ?? str(body.token) ?? eventKey(batch?.[0]),
      count: batch?.length ?? 0,
    };
  }
  return { key: eventKey(body), count: 1 };
}

const space = fc.constantFrom('', ' ', '\n', '\t ', '\r\n  ');
/** A member name as JSON text, sometimes spelled with an escape (`"write\u004bey"`). */
const spelled = (n: string) =>
  fc.constantFrom(
    JSON.stringify(n),
    JSON.stringify(n).replace(/[a-z]/, (c) => `\\u00${c.charCodeAt(0).toString(16)}`),
  );
const keyValue = fc.constantFrom(
  '"ea_key-1"',
  '"ea_key-2"',
  '""',
  '"k\\"ey"',
  '"\\ud83d\\ude00key"',
  '"é€"',
  '5',
  'null',
  '{}',
);
const scalar = fc.oneof(
  keyValue,
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
);

/** Any JSON text (objects with any names, repeated names included). */
const value: fc.Arbitrary<string> = fc.letrec<{ value: string; object: string; array: string }>(
  (tie) => ({
    value: fc.oneof({ depthSize: 'small' }, scalar, tie('object'), tie('array')),
    object: fc
      .array(fc.tuple(fc.string({ maxLength: 6 }).chain(spelled), tie('value')), { maxLength: 4 })
      .map(objectText),
    array: fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
  }),
).value;

function objectText(members: [string, string][]): string {
  return `{${members.map(([n, v]) => ` ${n} : ${v} `).join(',')}}`;
}
/** An object whose members are drawn from `fields` (name -> value), in any order, repeats included. */
function objectOf(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const member = fc.oneof(
    ...Object.entries(fields).map(([n, v]) => fc.tuple(spelled(n), v)),
    fc.tuple(fc.string({ maxLength: 4 }).chain(spelled), value),
  );
  return fc
    .tuple(space, fc.array(member, { maxLength: 6 }), space)
    .map(([a, members, b]) => `${a}${objectText(members)}${b}`);
}
const event = objectOf({
  api_key: keyValue,
  token: keyValue,
  properties: fc.oneof(objectOf({ token: keyValue }), value),
});
const events = fc.array(fc.oneof({ weight: 4, arbitrary: event }, value), { maxLength: 6 });
const messages = events.map((items) => `[${items.join(', ')}]`);
const envelope = objectOf({
  writeKey: keyValue,
  api_key: keyValue,
  token: keyValue,
  batch: fc.oneof({ weight: 4, arbitrary: messages }, value),
  events: fc.oneof({ weight: 4, arbitrary: messages }, value),
  properties: fc.oneof(objectOf({ token: keyValue }), value),
});
const body = fc.oneof(
  { weight: 6, arbitrary: envelope },
  { weight: 2, arbitrary: messages },
  value,
);

describe('outlineEnvelope', () => {
  it('finds the key and counts the messages exactly as JSON.parse reads the body', () => {
    let withKey = 0;
    let withMessages = 0;
    fc.assert(
      fc.property(body, space, fc.constantFrom(...KINDS), (text, pad, kind) => {
        const json = `${pad}${text}${pad}`;
        const parsed: unknown = JSON.parse(json);
        const outline = outlineEnvelope(Buffer.from(json), kind);
        const expected = oracle(parsed, kind);
        if (expected.key !== undefined) withKey++;
        if (expected.count > 1) withMessages++;
        expect({ key: outline.key, count: outline.count }, json).toEqual({
          key: expected.key,
          count: expected.count,
        });
      }),
      { numRuns: 3000 },
    );
    // The generator reaches the cases that matter.
    expect(withKey).toBeGreaterThan(100);
    expect(withMessages).toBeGreaterThan(100);
  });

  it('never throws on text that is not JSON (or not UTF-8), in linear time', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(...KINDS), (bytes, kind) => {
        outlineEnvelope(bytes, kind);
      }),
      { numRuns: 3000 },
    );
    for (const text of [
      '{"batch":[{',
      '{"writeKey":"abc',
      '[[[[',
      '{"a":1,,}',
      '"',
      '{"batch":]}',
    ]) {
      expect(() => outlineEnvelope(Buffer.from(text), 'segment-batch')).not.toThrow();
    }
    const deep = Buffer.from(`{"batch":[${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}]}`);
    expect(outlineEnvelope(deep, 'segment-batch').count).toBe(1);
  });

  it('counts the objects and arrays and the values of the whole body', () => {
    const outline = outlineEnvelope(
      Buffer.from('{"batch":[{},{"a":[1,2,{"b":"x,:{["}]}],"writeKey":"k"}'),
      'segment-batch',
    );
    expect(outline).toMatchObject({ key: 'k', count: 2, containers: 6 });
    expect(outline.separators).toBe(8); // 4 colons, 4 commas (those in the string skipped)
  });
});

describe('parseEnvelope', () => {
  it('parses a body too deep for the exact parser message by message', () => {
    // Deeper than the exact parser goes, with a number a double cannot hold.
    const deep = `${'{"a":'.repeat(1001)}12345678901234567890${'}'.repeat(1001)}`;
    const text = `{"sentAt":"x","batch":[{"n":1234567890123456},${deep},{"m":"é"}],"writeKey":"k"}`;
    const body = Buffer.from(text);
    const parsed = parseEnvelope(text, body, outlineEnvelope(body, 'segment-batch')) as {
      batch: unknown[];
      writeKey: string;
      sentAt: string;
    };
    expect(parsed.writeKey).toBe('k');
    expect(parsed.sentAt).toBe('x');
    expect(parsed.batch).toHaveLength(3);
    expect(parsed.batch[1]).toBeInstanceOf(UnparsableMessage);
    expect(parsed.batch[2]).toEqual({ m: 'é' });
    expect(String((parsed.batch[0] as { n: unknown }).n)).toBe('1234567890123456');
  });
});
