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
