import { type RawBuilder, sql } from 'kysely';
import { LRUCache } from 'lru-cache';
import { echoed, validationError } from '../errors.js';
import type { Project } from '../projects/repository.js';

/** The time zone of a /stats query, parsed once: every query module takes this value. */
export interface Zone {
  /** An IANA name as PostgreSQL reads it ('UTC' for every alias of UTC). */
  name: string;
  isUtc: boolean;
  /**
   * The id of the zone's summaries when it is a reporting zone of the project asked
   * about; undefined when raw events must be read.
   */
  reportingId?: number | undefined;
}

export const UTC: Zone = { name: 'UTC', isUtc: true };

// IANA names only ("Europe/Kyiv", "UTC", "Etc/GMT+3"): PostgreSQL reads POSIX-style strings
// such as "+03:00" with the opposite sign, so raw offsets are refused rather than misread.
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

const UTC_ALIASES = new Set(
  [
    'UTC',
    'Etc/UTC',
    'UCT',
    'Etc/UCT',
    'GMT',
    'Etc/GMT',
    'GMT0',
    'Etc/GMT0',
    'GMT+0',
    'Etc/GMT+0',
    'GMT-0',
    'Etc/GMT-0',
    'Greenwich',
    'Etc/Greenwich',
    'Universal',
    'Etc/Universal',
    'Zulu',
    'Etc/Zulu',
  ].map((z) => z.toLowerCase()),
);

/** A 422 for `tz`; the name is echoed cut short (a client may send thousands of characters). */
export function unknownZone(name: string, message: string) {
  return validationError(`unknown time zone "${echoed(name)}"`, [{ field: 'tz', message }]);
}

/**
 * Names checked so far (valid or not): the check builds an Intl.DateTimeFormat, ~0.5 ms of
 * CPU, more than the rest of a summary /stats request. Bounded: names are client input.
 */
const checkedZones = new LRUCache<string, boolean>({ max: 1000 });

function isIanaZone(name: string): boolean {
  let known = checkedZones.get(name);
  if (known === undefined) {
    known = ZONE_NAME.test(name);
    if (known) {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: name });
      } catch {
        known = false;
      }
    }
    checkedZones.set(name, known);
  }
  return known;
}

/** Parses the `tz` parameter (default UTC); 422 for a name that is not an IANA zone. */
export function parseZone(raw: string | undefined): Zone {
  const name = raw?.trim() || 'UTC';
  if (UTC_ALIASES.has(name.toLowerCase())) return UTC;
  if (!isIanaZone(name)) {
    throw unknownZone(name, 'must be an IANA time zone name such as Europe/Kyiv or UTC');
  }
  return { name, isUtc: false };
}

/** PostgreSQL's SQLSTATE for a time zone it does not know (invalid_parameter_value). */
export const UNKNOWN_ZONE_SQLSTATE = '22023';

/** SQLSTATE of analytics.reporting_zone(): the zone is not (any more) a reporting zone. */
export const NOT_REPORTING_ZONE_SQLSTATE = 'EA409';

/**
 * The zone of a /stats question in a project: `tz` when given, else the project's main
 * zone; with the id of its summaries when it is one of the project's reporting zones (else
 * the question is answered from raw events).
 */
export function zoneFor(project: Pick<Project, 'zones'>, tz: string | undefined): Zone {
  const main = project.zones[0];
  const zone = tz === undefined || tz.trim() === '' ? parseZone(main?.name) : parseZone(tz);
  const key = zone.name.toLowerCase();
  const reporting = project.zones.find((z) => z.name.toLowerCase() === key);
  return { ...zone, reportingId: reporting?.id };
}

/**
 * The SQL expression for a reporting zone's id in summary queries: raises SQLSTATE EA409
 * when the zone stopped being one of the project's reporting zones after the project's
 * settings were cached (the route then answers from raw events).
 */
export function reportingZone(projectId: number, zoneId: number): RawBuilder<number> {
  return sql<number>`analytics.reporting_zone(${projectId}::int, ${zoneId}::smallint)`;
}
