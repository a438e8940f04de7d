import { type Validation, validateEvent } from '../ingest/validate-event.js';
import type { CsvRow } from './csv-rows.js';

/**
 * properties_json as the importer reads it: empty -> {}; a JSON object as it is; other
 * valid JSON wrapped as {"_value": ...}; text that is not JSON kept as {"_raw": "..."},
 * so no row is lost over its properties.
 */
export function parseProperties(text: string): Record<string, unknown> {
  const trimmed = text.trim();
  if (trimmed === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return { _raw: text };
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value))
    return value as Record<string, unknown>;
  return { _value: value };
}

/** A CSV row checked by the same validator as POST /events. */
export function rowToEvent(row: CsvRow, nowMs: number): Validation {
  const { event_id, occurred_at, user_id, event_type, properties_json } = row.fields;
  return validateEvent(
    { event_id, occurred_at, user_id, event_type, properties: parseProperties(properties_json) },
    nowMs,
  );
}
