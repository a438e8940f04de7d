import { type Kysely, sql } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { Database } from '../db/schema.js';
import { echoed, validationError } from '../errors.js';

/** The time zone of a /stats query, parsed once: every query module takes this value. */
export interface Zone {
  /** An IANA name as PostgreSQL reads it ('UTC' for every alias of UTC). */
  name: string;
  isUtc: boolean;
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

/** Reporting zones found so far, per database (a zone keeps its id once added). */
const knownZoneIds = new WeakMap<Kysely<Database>, Map<string, number>>();
/** Zones found to have no summaries, per database, until when (ms) that answer is trusted. */
const rawZonesUntil = new WeakMap<Kysely<Database>, Map<string, number>>();
/**
 * How long "no summaries in this zone" is trusted: a zone is added only when an instance
 * starts, so a second's delay costs nothing, and a flood of raw-path requests (answered
 * 503 `busy` beyond their limit) then costs no query each.
 */
const RAW_ZONE_TTL_MS = 1000;
/** Zone names remembered as raw at most (names are client input: the map stays bounded). */
const MAX_RAW_ZONES = 1000;

function cacheOf<V>(caches: WeakMap<Kysely<Database>, Map<string, V>>, db: Kysely<Database>) {
  let cache = caches.get(db);
  if (!cache) {
    cache = new Map();
    caches.set(db, cache);
  }
  return cache;
}

/**
 * The reporting zone id whose summaries answer queries in `zone` (migrations/0005:
 * report_zones), or undefined when the zone has none and raw events must be read. A zone
 * found is remembered, so summary queries cost no extra round trip; one not found is asked
 * again after a second (another instance may add it at its start).
 */
export async function summaryZoneId(db: Kysely<Database>, zone: Zone): Promise<number | undefined> {
  const key = zone.name.toLowerCase();
  const known = cacheOf(knownZoneIds, db);
  const cached = known.get(key);
  if (cached !== undefined) return cached;
  const raw = cacheOf(rawZonesUntil, db);
  if ((raw.get(key) ?? 0) > Date.now()) return undefined;
  const { rows } = await sql<{ zone_id: number }>`
    SELECT zone_id FROM report_zones WHERE lower(name) = ${key}`.execute(db);
  const id = rows[0]?.zone_id;
  if (id !== undefined) known.set(key, id);
  else {
    if (raw.size >= MAX_RAW_ZONES) raw.clear();
    raw.set(key, Date.now() + RAW_ZONE_TTL_MS);
  }
  return id;
}
