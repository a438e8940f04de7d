import { validationError } from '../../errors.js';
import type { ErrorDetail } from '../../schemas/errors.js';
import { outsideRetention } from '../rules.js';
import { type FieldError, type ValidEvent, validateEvent } from '../validate-event.js';
import type { Message } from './adapt.js';

/** At most this many problems are reported for one request; work stops there too. */
export const MAX_ERROR_DETAILS = 100;

/** What a batch's events are held to. */
export interface Policy {
  /** `batch`: any invalid event refuses the whole batch (422). `message`: it is skipped. */
  invalid: 'batch' | 'message';
  /** When the batch arrived: the reference of the 24 h future limit. */
  receivedAtMs: number;
  /** The project's raw retention (days), whose horizon older events are refused at. */
  retentionDays: number | undefined;
}

/** A message that will not be stored, and why (`field`: ours or the SDK's). */
export interface Skipped {
  index: number;
  field: string;
  message: string;
  /** `outside_retention` for an event older than the project's horizon. */
  code?: string;
}

export interface Validated {
  valid: ValidEvent[];
  skipped: Skipped[];
}

/**
 * Step 4, validate: every mapped event against the one set of event rules
 * (validate-event.ts, rules.ts) and its project's retention horizon. Mapping problems (an
 * SDK message without an event name...) are skipped as they are. With the `batch` policy the
 * first MAX_ERROR_DETAILS problems are listed in a 422 and nothing is stored; with `message`
 * the invalid messages are returned as skipped.
 */
export function validate(messages: Message[], policy: Policy): Validated {
  const valid: ValidEvent[] = [];
  const skipped: Skipped[] = [];
  const details: ErrorDetail[] = [];
  let problems = 0;
  let index = 0;
  for (; index < messages.length; index++) {
    const message = messages[index] as Message;
    let errors: (FieldError & { code?: string })[];
    if (!message.ok) errors = [{ field: message.field, message: message.message }];
    else {
      const checked = validateEvent(message.event, policy.receivedAtMs);
      if (checked.ok) {
        const late = outsideRetention(
          Date.parse(checked.event.occurred_at),
          policy.retentionDays,
          policy.receivedAtMs,
        );
        if (late === undefined) {
          valid.push(checked.event);
          continue;
        }
        errors = [{ field: 'occurred_at', message: late, code: 'outside_retention' }];
      } else errors = checked.errors;
    }
    problems += errors.length;
    const first = errors[0] as FieldError & { code?: string };
    skipped.push({
      index: message.index,
      field: first.field,
      message: errors.map((e) => `${e.field} ${e.message}`).join('; '),
      ...(first.code ? { code: first.code } : {}),
    });
    for (const error of errors) {
      if (details.length < MAX_ERROR_DETAILS) details.push({ index: message.index, ...error });
    }
    // A hostile batch cannot make the work or the answer unbounded.
    if (policy.invalid === 'batch' && problems >= MAX_ERROR_DETAILS) break;
  }
  if (policy.invalid === 'batch' && skipped.length > 0) {
    const truncated = index < messages.length - 1;
    const counted = truncated ? `at least ${skipped.length}` : String(skipped.length);
    const listed = truncated ? ` (the first ${MAX_ERROR_DETAILS} problems are listed)` : '';
    throw new InvalidBatch(
      `${counted} of ${messages.length} events are invalid${listed}; nothing was stored`,
      details,
      messages.length,
    );
  }
  return { valid, skipped };
}

/** A 422 refusing a whole POST /events batch; the pipeline counts it as `invalid_batch`. */
export class InvalidBatch extends Error {
  readonly error;
  constructor(
    message: string,
    details: ErrorDetail[],
    readonly events: number,
  ) {
    super(message);
    this.error = validationError(message, details);
  }
}
