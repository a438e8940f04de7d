/** Auto-refresh: every 10 s unless `?refresh=<seconds>` asks for another interval. */
export const DEFAULT_REFRESH_S = 10;
/** The bounds of `?refresh=`: no page may poll the service more often, or never again. */
export const MIN_REFRESH_S = 5;
export const MAX_REFRESH_S = 3600;

/**
 * The refresh interval in ms from the page's query string: `?refresh=<seconds>`, held
 * within 5 s .. 1 h (setTimeout takes at most 2^31-1 ms and runs a larger delay at once, so
 * `?refresh=1e308` polled continuously); anything that is not a positive number of seconds
 * gives the default.
 */
export function refreshMs(search: string): number {
  const raw = new URLSearchParams(search).get('refresh');
  const asked = raw === null || raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(asked) || asked <= 0) return DEFAULT_REFRESH_S * 1000;
  return Math.min(MAX_REFRESH_S, Math.max(MIN_REFRESH_S, asked)) * 1000;
}
