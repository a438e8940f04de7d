import { ApiError } from '../errors.js';
import type { Project } from '../projects/repository.js';
import { addDays } from './dates.js';
import type { Zone } from './zone.js';

/**
 * The first local day a /stats question in `zone` can be answered exactly for, when raw
 * events expired (docs/lifecycle.md): in a reporting zone, the day its summaries are
 * complete from (a zone added after expiry was built from what was left; a zone that
 * existed before keeps every day); on the raw path, the first local day that the project's
 * remaining raw events cover whole. Undefined when every day can be answered.
 */
export function firstCompleteDay(
  project: Pick<Project, 'zones' | 'rawFloor'>,
  zone: Zone,
): string | undefined {
  if (zone.reportingId !== undefined) {
    return project.zones.find((z) => z.id === zone.reportingId)?.completeFrom;
  }
  if (project.rawFloor === undefined) return undefined;
  // The local date and time of the floor: its day is whole only from local midnight on.
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: zone.name,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(project.rawFloor));
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '00';
  const day = `${part('year')}-${part('month')}-${part('day')}`;
  const midnight = part('hour') === '00' && part('minute') === '00' && part('second') === '00';
  return midnight ? day : addDays(day, 1);
}

/**
 * Refuses (422 `outside_retention`) a question that reads days before the first complete day
 * of its zone: those days' numbers would be wrong, so none are given. `firstDay` is the
 * earliest local day the question reads (a MAU window reaches 29 days before `from`);
 * `field` names the parameter that sets it.
 */
export function requireCompleteDays(
  project: Pick<Project, 'zones' | 'rawFloor'>,
  zone: Zone,
  firstDay: string,
  field: string,
): void {
  const complete = firstCompleteDay(project, zone);
  if (complete === undefined || firstDay >= complete) return;
  const path = zone.reportingId !== undefined ? 'its summaries in' : 'the raw events left in';
  throw new ApiError(
    422,
    'outside_retention',
    `raw events before ${complete} expired: ${path} ${zone.name} are complete from ${complete} on`,
    [{ field, message: `must leave every day read on or after ${complete} (in ${zone.name})` }],
  );
}
