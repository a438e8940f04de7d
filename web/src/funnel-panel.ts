import type { FunnelStep } from './api/client.js';
import { byId, element } from './dom.js';
import { formatCount, formatDuration, formatPercent, groupLabel } from './format.js';
import { FUNNEL_WINDOWS, MAX_STEPS, MIN_STEPS, type ViewState } from './view.js';

type Change = (patch: Partial<ViewState>) => void;

const WINDOW_UNITS: Record<string, [string, string]> = {
  m: ['minute', 'minutes'],
  h: ['hour', 'hours'],
  d: ['day', 'days'],
};

function windowLabel(window: string): string {
  const n = Number(window.slice(0, -1));
  const [one, many] = WINDOW_UNITS[window.slice(-1)] ?? ['', ''];
  return `${n} ${n === 1 ? one : many}`;
}

const option = (label: string, value: string, selected = false) =>
  new Option(label, value, selected, selected);

/**
 * The funnel: 2 to 5 steps picked from the project's event types, a window, bars with the
 * users of each step, the conversions and the median time from the step before; a click on
 * a step shows it broken down by a property of the entry event.
 */
export class FunnelPanel {
  readonly panel = byId('funnel-panel');
  private readonly stepList = byId<HTMLOListElement>('funnel-steps');
  private readonly add = byId<HTMLSelectElement>('funnel-add');
  private readonly window = byId<HTMLSelectElement>('funnel-window');
  private readonly stepBy = byId<HTMLSelectElement>('step-by');
  private readonly table = byId<HTMLTableElement>('funnel-table');
  private readonly note = byId('funnel-note');
  private readonly detail = byId('funnel-detail');
  private state: ViewState | undefined;
  private signature = '';

  constructor(private readonly change: Change) {
    this.add.addEventListener('change', () => {
      const steps = this.state?.steps ?? [];
      if (this.add.value) this.change({ steps: [...steps, this.add.value], step: null });
    });
    this.window.addEventListener('change', () => this.change({ window: this.window.value }));
    this.stepBy.addEventListener('change', () => this.change({ stepBy: this.stepBy.value }));
    byId('step-close').addEventListener('click', () => this.change({ step: null, stepBy: null }));
    byId('funnel-form').addEventListener('submit', (event) => event.preventDefault());
  }

  /** The step pickers for a state and the event types (and properties) on offer. */
  showControls(state: ViewState, types: string[], properties: string[]): void {
    this.state = state;
    const signature = JSON.stringify([state.steps, state.window, state.stepBy, types, properties]);
    if (signature === this.signature) return;
    this.signature = signature;
    const offered = [...new Set([...types, ...state.steps])];
    this.stepList.replaceChildren(
      ...state.steps.map((type, i) => {
        const item = element('li');
        const id = `funnel-step-${i + 1}`;
        const label = element('label', `Step ${i + 1}`);
        label.htmlFor = id;
        const select = element('select');
        select.id = id;
        select.append(...offered.map((t) => option(t, t, t === type)));
        select.addEventListener('change', () => {
          const steps = [...state.steps];
          steps[i] = select.value;
          // A type picked twice keeps its first place: steps are distinct.
          this.change({ steps: [...new Set(steps)], step: null });
        });
        const remove = element('button', '×', 'secondary');
        remove.type = 'button';
        remove.setAttribute('aria-label', `Remove step ${i + 1}`);
        remove.addEventListener('click', () =>
          this.change({ steps: state.steps.filter((_, j) => j !== i), step: null }),
        );
        item.append(label, select, remove);
        return item;
      }),
    );
    const left = offered.filter((t) => !state.steps.includes(t));
    this.add.replaceChildren(
      option(left.length === 0 ? 'No more event types' : 'Choose an event type…', ''),
      ...left.map((t) => option(t, t)),
    );
    this.add.disabled = state.steps.length >= MAX_STEPS || left.length === 0;
    const windows: string[] = [...FUNNEL_WINDOWS];
    if (!windows.includes(state.window)) windows.push(state.window);
    this.window.replaceChildren(
      ...windows.map((w) => option(windowLabel(w), w, w === state.window)),
    );
    const by = [...new Set([...properties, ...(state.stepBy ? [state.stepBy] : [])])];
    this.stepBy.replaceChildren(...by.map((key) => option(key, key, key === state.stepBy)));
  }

  /** Whether the state asks for a funnel: at least two steps. */
  static wanted(state: ViewState): boolean {
    return state.steps.length >= MIN_STEPS;
  }

  loading(): void {
    this.panel.setAttribute('aria-busy', 'true');
  }

  /** The funnel's answer (undefined: not enough steps), and the step broken down, if any. */
  render(
    steps: FunnelStep[] | undefined,
    detail: { step: number; by: string; rows: FunnelStep[] } | null,
  ): void {
    this.panel.setAttribute('aria-busy', 'false');
    if (!steps) {
      this.table.hidden = true;
      this.detail.hidden = true;
      this.note.hidden = false;
      this.note.textContent =
        'Pick 2 to 5 steps: users who did the first, then the next, within the window.';
      return;
    }
    const entered = steps[0]?.users ?? 0;
    this.note.hidden = entered > 0;
    this.note.textContent = `Nobody did “${steps[0]?.event_type ?? ''}” in this range.`;
    this.table.hidden = false;
    this.table.tBodies[0]?.replaceChildren(
      ...steps.map((s, i) => {
        const row = element('tr');
        const selected = detail?.step === i + 1;
        row.classList.toggle('selected', selected);
        const name = element('th');
        name.scope = 'row';
        const button = element('button', `${i + 1}. ${s.event_type}`, 'step-button');
        button.type = 'button';
        button.title = 'Break this step down';
        button.setAttribute('aria-pressed', String(selected));
        button.addEventListener('click', () =>
          this.change(
            selected ? { step: null } : { step: i + 1, stepBy: this.stepBy.value || null },
          ),
        );
        name.append(button);
        const barCell = element('td', undefined, 'bar-cell');
        barCell.setAttribute('aria-hidden', 'true');
        const bar = element('span', undefined, 'bar');
        bar.style.width = `${entered === 0 ? 0 : (s.users / entered) * 100}%`;
        barCell.append(bar);
        row.append(
          name,
          barCell,
          element('td', formatCount(s.users), 'num'),
          element('td', i === 0 ? '–' : formatPercent(s.conversion_from_previous), 'num'),
          element('td', formatPercent(s.conversion_from_first), 'num'),
          element(
            'td',
            s.median_seconds_from_previous === null
              ? '–'
              : formatDuration(s.median_seconds_from_previous),
            'num',
          ),
        );
        return row;
      }),
    );
    this.renderDetail(steps, detail);
  }

  private renderDetail(
    steps: FunnelStep[],
    detail: { step: number; by: string; rows: FunnelStep[] } | null,
  ): void {
    this.detail.hidden = detail === null;
    if (!detail) return;
    const step = steps[detail.step - 1];
    byId('funnel-detail-title').textContent =
      `Step ${detail.step}, ${step?.event_type ?? ''}, by ${detail.by}`;
    const head = element('tr');
    head.append(
      ...[
        detail.by,
        'Entered',
        'Users',
        'From previous',
        'From first',
        'Median time from previous',
      ].map((text, i) => element('th', text, i === 0 ? undefined : 'num')),
    );
    for (const cell of head.children) cell.setAttribute('scope', 'col');
    byId<HTMLTableElement>('funnel-breakdown').tHead?.replaceChildren(head);
    // The answer is every step of each group, groups in rank order.
    const groups = steps.length;
    const rows: HTMLTableRowElement[] = [];
    for (let i = 0; i + groups <= detail.rows.length; i += groups) {
      const first = detail.rows[i];
      const s = detail.rows[i + detail.step - 1];
      if (!first || !s) continue;
      const row = element('tr');
      const value = element('th', groupLabel(s.breakdown));
      value.scope = 'row';
      row.append(
        value,
        element('td', formatCount(first.users), 'num'),
        element('td', formatCount(s.users), 'num'),
        element('td', detail.step === 1 ? '–' : formatPercent(s.conversion_from_previous), 'num'),
        element('td', formatPercent(s.conversion_from_first), 'num'),
        element(
          'td',
          s.median_seconds_from_previous === null
            ? '–'
            : formatDuration(s.median_seconds_from_previous),
          'num',
        ),
      );
      rows.push(row);
    }
    byId<HTMLTableElement>('funnel-breakdown').tBodies[0]?.replaceChildren(...rows);
    const note = byId('funnel-detail-note');
    note.hidden = rows.length > 0;
    note.textContent = 'Nobody entered the funnel in this range.';
  }

  /** A failed answer: the panel's error line says it, the last bars stay. */
  failed(): void {
    this.panel.setAttribute('aria-busy', 'false');
  }
}
