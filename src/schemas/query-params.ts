import type { TSchema } from '@sinclair/typebox';

/**
 * An integer in a query string: plain decimal digits only. Ajv's coercion takes whatever
 * `Number()` takes (`1e1`, `0x10`, ` 5`, `1.0`, `Infinity`, `1e400`), which let odd
 * spellings through and infinities reach PostgreSQL as a 500.
 */
export const DECIMAL_DIGITS = /^[0-9]{1,15}$/;

/** True for a query-string value that may be read as an integer (and fits one exactly). */
export function isDecimalInteger(value: unknown): value is string {
  return typeof value === 'string' && DECIMAL_DIGITS.test(value);
}

/** Names of the integer (or number) parameters of a querystring schema. */
export function integerParameters(schema: unknown): string[] {
  const properties = (schema as { properties?: Record<string, TSchema> } | undefined)?.properties;
  if (!properties) return [];
  return Object.entries(properties)
    .filter(([, p]) => p.type === 'integer' || p.type === 'number')
    .map(([name]) => name);
}
