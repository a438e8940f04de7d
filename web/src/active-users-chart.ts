import uPlot from 'uplot';
import { dayToSeconds } from './dates.js';
import { element } from './dom.js';
import { formatCount, groupLabel } from './format.js';

/** One line: DAU, WAU, MAU, or the DAU of one breakdown value. */
export interface Series {
  label: string;
  values: number[];
}

/** The breakdown's days as one line per value (the API's rows: per day, values in rank order). */
export function breakdownSeries(
  rows: { date: string; unique_users: number; breakdown?: string | null }[],
) {
  const dates = [...new Set(rows.map((r) => r.date))];
  const index = new Map(dates.map((d, i) => [d, i]));
  const series = new Map<string, { label: string; values: number[] }>();
  for (const row of rows) {
    const label = groupLabel(row.breakdown);
    let line = series.get(label);
    if (!line) {
      line = { label, values: dates.map(() => 0) };
      series.set(label, line);
    }
    line.values[index.get(row.date) ?? 0] = row.unique_users;
  }
  return { dates, series: [...series.values()] };
}

/** Colours for the lines, in order (CSS variables, one scale per colour scheme). */
const COLOURS = 11;
const HEIGHT = 280;

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/**
 * Active users as lines (uPlot, canvas), with the same numbers in a table under it. Dates
 * are UTC midnights drawn in UTC, so the axis shows the calendar days the API answered for,
 * whatever the browser's own zone.
 */
export class ActiveUsersChart {
  private plot: uPlot | undefined;
  private data: uPlot.AlignedData = [[]];
  private labels: string[] = [];

  constructor(
    private readonly container: HTMLElement,
    private readonly table: HTMLTableElement,
  ) {
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(container);
    // Colours come from CSS variables: rebuild when the colour scheme flips.
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.rebuild());
  }

  render(dates: string[], series: Series[]): void {
    this.data = [dates.map(dayToSeconds), ...series.map((s) => s.values)];
    const labels = series.map((s) => s.label);
    if (this.plot && labels.join('\0') === this.labels.join('\0')) this.plot.setData(this.data);
    else {
      this.labels = labels;
      this.rebuild();
    }
    const head = element('tr');
    head.append(...['Date', ...labels].map((label) => element('th', label)));
    for (const cell of head.children) cell.setAttribute('scope', 'col');
    this.table.tHead?.replaceChildren(head);
    this.table.tBodies[0]?.replaceChildren(
      ...dates.map((date, i) => {
        const row = element('tr');
        const day = element('th', date);
        day.scope = 'row';
        row.append(day, ...series.map((s) => element('td', formatCount(s.values[i] ?? 0))));
        return row;
      }),
    );
  }

  private size() {
    return { width: Math.max(this.container.clientWidth, 200), height: HEIGHT };
  }

  private rebuild(): void {
    this.plot?.destroy();
    const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 } };
    this.plot = new uPlot(
      {
        ...this.size(),
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [
          { ...axis, ticks: { stroke: cssVar('--grid') } },
          {
            ...axis,
            ticks: { stroke: cssVar('--grid') },
            values: (_u, ticks) => ticks.map(formatCount),
          },
        ],
        series: [
          { label: 'Date', value: '{YYYY}-{MM}-{DD}' },
          ...this.labels.map((label, i) => ({
            label,
            stroke: cssVar(`--series-${(i % COLOURS) + 1}`),
            width: 2,
            points: { show: false },
            value: (_u: uPlot, v: number | null) => (v === null ? '–' : formatCount(v)),
          })),
        ],
        cursor: { drag: { x: false, y: false } },
      },
      this.data,
      this.container,
    );
  }
}
