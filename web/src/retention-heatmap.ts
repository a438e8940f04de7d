import type { RetentionMatrix } from './api/client.js';
import { element } from './dom.js';
import { formatCount, formatPercent, formatWholePercent } from './format.js';

/**
 * Cohorts as rows, periods as columns; each cell's colour is its rate (a CSS variable the
 * stylesheet mixes into the background, so light and dark mode each get a readable scale).
 */
export function renderRetention(
  head: HTMLTableSectionElement,
  body: HTMLTableSectionElement,
  matrix: RetentionMatrix,
  windows: number,
): void {
  const unit = matrix.period === 'week' ? 'Week' : 'Day';
  const headRow = element('tr');
  headRow.append(element('th', 'Cohort'), element('th', 'Users', 'num'));
  for (let n = 0; n <= windows; n++) headRow.append(element('th', `${unit} ${n}`, 'num'));
  for (const cell of headRow.children) cell.setAttribute('scope', 'col');
  head.replaceChildren(headRow);

  body.replaceChildren(
    ...matrix.cohorts.map((cohort) => {
      const row = element('tr');
      const label = element('th', cohort.start_date);
      label.scope = 'row';
      row.append(label, element('td', formatCount(cohort.size), 'num'));
      for (let n = 0; n <= windows; n++) {
        const rate = cohort.rates[n];
        const count = cohort.counts[n];
        if (rate === undefined || count === undefined) {
          const cell = element('td', '', 'heat pending');
          cell.title = `${unit} ${n} has not ended yet`;
          row.append(cell);
          continue;
        }
        // An empty cohort has rate 0 by definition; show that there was nobody to retain.
        const cell = element('td', cohort.size === 0 ? '–' : formatWholePercent(rate), 'heat');
        cell.style.setProperty('--rate', String(rate));
        // Dark cells get the contrasting text colour (the stylesheet picks it per scheme).
        if (rate >= 0.7) cell.classList.add('high');
        cell.title = `${cohort.start_date}, ${unit.toLowerCase()} ${n}: ${formatCount(count)} of ${formatCount(cohort.size)} users (${formatPercent(rate)})`;
        cell.dataset.count = String(count);
        cell.dataset.rate = String(rate);
        row.append(cell);
      }
      return row;
    }),
  );
}
