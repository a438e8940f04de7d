import uPlot from 'uplot';
import type { ActiveUsersDay } from './api/client.js';
import { dayToSeconds } from './dates.js';
import { element } from './dom.js';
import { formatCount } from './format.js';

const SERIES = [
  { key: 'dau', label: 'DAU', color: '--series-1' },
  { key: 'wau', label: 'WAU', color: '--series-2' },
  { key: 'mau', label: 'MAU', color: '--series-3' },
] as const;

const HEIGHT = 280;

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/**
 * DAU/WAU/MAU as lines (uPlot, canvas). Dates are UTC midnights drawn in UTC, so the axis
 * shows the calendar days the API answered for, whatever the browser's own zone.
 */
export class ActiveUsersChart {
  private plot: uPlot | undefined;
  private data: uPlot.AlignedData = [[], [], [], []];

  constructor(
    private readonly container: HTMLElement,
    private readonly table: HTMLTableSectionElement,
  ) {
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(container);
    // Colours come from CSS variables: rebuild when the colour scheme flips.
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.rebuild());
  }

  render(days: ActiveUsersDay[]): void {
    this.data = [
      days.map((d) => dayToSeconds(d.date)),
      days.map((d) => d.dau),
      days.map((d) => d.wau),
      days.map((d) => d.mau),
    ];
    if (this.plot) this.plot.setData(this.data);
    else this.rebuild();
    this.table.replaceChildren(
      ...days.map((d) => {
        const row = element('tr');
        row.append(
          element('th', d.date),
          ...SERIES.map((s) => element('td', formatCount(d[s.key]))),
        );
        row.firstElementChild?.setAttribute('scope', 'row');
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
          ...SERIES.map((s) => ({
            label: s.label,
            stroke: cssVar(s.color),
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
