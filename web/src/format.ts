const integer = new Intl.NumberFormat('en-US');
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** Counts as the page shows them: 12,345 (one locale, so tests and screenshots agree). */
export const formatCount = (n: number): string => integer.format(n);

export const formatRate = (n: number): string => decimal.format(n);

/** A retention rate (0..1, 4 decimals) as a percentage with up to 2 decimals: 66.67%. */
export const formatPercent = (rate: number): string => `${decimal.format(rate * 100)}%`;

const whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A rate as a whole percentage for heatmap cells (the exact one is in the cell's title). */
export const formatWholePercent = (rate: number): string => `${whole.format(rate * 100)}%`;

/** A duration in seconds as people read it: 42 s, 5 min 3 s, 2 h 10 min, 3 d 4 h. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${decimal.format(seconds)} s`;
  const s = Math.round(seconds);
  const [d, h, m] = [
    Math.floor(s / 86_400),
    Math.floor((s % 86_400) / 3600),
    Math.floor((s % 3600) / 60),
  ];
  if (d > 0) return h > 0 ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  const rest = s % 60;
  return rest > 0 ? `${m} min ${rest} s` : `${m} min`;
}

/** How a breakdown value reads: `null` is "(none)", values past the limit are "Other". */
export function groupLabel(value: string | null | undefined): string {
  if (value === null || value === undefined) return '(none)';
  return value === '$other' ? 'Other' : value;
}
