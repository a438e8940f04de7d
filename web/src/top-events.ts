import type { TopEvent } from './api/client.js';
import { element } from './dom.js';
import { formatCount } from './format.js';

/** A table with a bar per type, scaled to the largest count (the numbers are in their own cells). */
export function renderTopEvents(body: HTMLTableSectionElement, events: TopEvent[]): void {
  const max = Math.max(1, ...events.map((e) => e.count));
  body.replaceChildren(
    ...events.map((e) => {
      const row = element('tr');
      const name = element('th', e.event_type);
      name.scope = 'row';
      const barCell = element('td', undefined, 'bar-cell');
      barCell.setAttribute('aria-hidden', 'true');
      const bar = element('span', undefined, 'bar');
      bar.style.width = `${(e.count / max) * 100}%`;
      barCell.append(bar);
      row.append(
        name,
        barCell,
        element('td', formatCount(e.count), 'num'),
        element('td', formatCount(e.unique_users), 'num'),
      );
      return row;
    }),
  );
}
