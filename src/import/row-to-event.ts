import { outsideRetention } from '../ingest/rules.js';
import { type Validation, validateEvent } from '../ingest/validate-event.js';
import type { CsvRow } from './csv-rows.js';
import { checkProperties } from './properties.js';

/**
 * A CSV row checked by the same validator as POST /events; properties_json by the
 * importer's own rules (checkProperties), which keep its text as written.
 */
export function rowToEvent(
  row: CsvRow,
  nowMs: number,
  retentionDays: number | undefined = undefined,
): Validation {
  const { event_id, occurred_at, user_id, event_type, properties_json } = row.fields;
  let validation = validateEvent({ event_id, occurred_at, user_id, event_type }, nowMs);
  if (validation.ok) {
    // The project's retention horizon, as on every ingest route.
    const late = outsideRetention(Date.parse(validation.event.occurred_at), retentionDays, nowMs);
    if (late) validation = { ok: false, errors: [{ field: 'occurred_at', message: late }] };
  }
  const properties = checkProperties(properties_json);
  if (!properties.ok) {
    const error = { field: 'properties_json', message: properties.message };
    return { ok: false, errors: validation.ok ? [error] : [...validation.errors, error] };
  }
  if (!validation.ok) return validation;
  return { ok: true, event: { ...validation.event, properties: properties.json } };
}
