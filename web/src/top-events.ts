import type { TopEvent } from './api/client.js';
import { element } from './dom.js';
import { formatCount, groupLabel } from './format.js';

/**
 * A table with a bar per row, scaled to the largest count (the numbers are in their own
 * cells). With a breakdown (`by`), a row per type and value, in the API's order.
 */
export function renderTopEvents(
  table: HTMLTableElement,
  events: TopEvent[],
  by: string | null,
): void {
  const head = element('tr');
  head.append(element('th', 'Event type'));
  if (by) head.append(element('th', by));
  head.append(element('td'), element('th', 'Events', 'num'), element('th', 'Unique users', 'num'));
  for (const cell of head.querySelectorAll('th')) cell.scope = 'col';
  table.tHead?.replaceChildren(head);

  const max = Math.max(1, ...events.map((e) => e.count));
  table.tBodies[0]?.replaceChildren(
    ...events.map((e) => {
      const row = element('tr');
      const name = element('th', e.event_type);
      name.scope = 'row';
      row.append(name);
      if (by) row.append(element('td', groupLabel(e.breakdown), 'group'));
      const barCell = element('td', undefined, 'bar-cell');
      barCell.setAttribute('aria-hidden', 'true');
      const bar = element('span', undefined, 'bar');
      bar.style.width = `${(e.count / max) * 100}%`;
      barCell.append(bar);
      row.append(
        barCell,
        element('td', formatCount(e.count), 'num'),
        element('td', formatCount(e.unique_users), 'num'),
      );
      return row;
    }),
  );
}
