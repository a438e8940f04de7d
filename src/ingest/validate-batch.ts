import type { ErrorDetail } from '../schemas/errors.js';
import { type FieldError, type ValidEvent, validateEvent } from './validate-event.js';

/** At most this many problems are reported for one request; work stops there too. */
export const MAX_ERROR_DETAILS = 100;

export interface InvalidEvent {
  index: number;
  errors: FieldError[];
}

export interface BatchValidation {
  valid: ValidEvent[];
  invalid: InvalidEvent[];
  /** Problems of the invalid events, in order, at most MAX_ERROR_DETAILS. */
  details: ErrorDetail[];
  /** True when validation stopped at the cap (only with `stopAtCap`). */
  truncated: boolean;
}

/**
 * Validates each item with validateEvent(). With `stopAtCap` (POST /events, where one
 * invalid event refuses the whole batch) it stops once MAX_ERROR_DETAILS problems are
 * known, so a hostile batch cannot make the error response or the work unbounded.
 */
export function validateBatch(
  items: readonly unknown[],
  nowMs: number,
  options: { stopAtCap: boolean },
): BatchValidation {
  const result: BatchValidation = { valid: [], invalid: [], details: [], truncated: false };
  for (let index = 0; index < items.length; index++) {
    const validation = validateEvent(items[index], nowMs);
    if (validation.ok) {
      result.valid.push(validation.event);
      continue;
    }
    result.invalid.push({ index, errors: validation.errors });
    for (const error of validation.errors) {
      if (result.details.length < MAX_ERROR_DETAILS) result.details.push({ index, ...error });
    }
    if (options.stopAtCap && result.details.length >= MAX_ERROR_DETAILS) {
      result.truncated = index < items.length - 1;
      break;
    }
  }
  return result;
}
