import { validationError } from '../errors.js';
import { parseZone } from '../stats/zone.js';

/**
 * A project's reporting zones as asked for (API or CLI): each an IANA zone (UTC aliases
 * become UTC), no zone twice. A 422 naming the entry otherwise. UTC is added by the
 * database when it is not listed.
 */
export function checkZoneList(zones: readonly string[], field = 'time_zones'): string[] {
  const names: string[] = [];
  zones.forEach((raw, i) => {
    let name: string;
    try {
      name = parseZone(raw).name;
    } catch {
      throw validationError(`unknown time zone "${raw.slice(0, 64)}"`, [
        { field: `${field}[${i}]`, message: 'must be an IANA time zone name such as Europe/Kyiv' },
      ]);
    }
    if (names.some((n) => n.toLowerCase() === name.toLowerCase())) {
      throw validationError(`time zone "${name}" is listed twice`, [
        { field: `${field}[${i}]`, message: 'is listed twice' },
      ]);
    }
    names.push(name);
  });
  return names;
}
