import type { Property } from './api/client.js';
import { byId, element } from './dom.js';
import { type Filter, filterText, MAX_FILTERS, type ViewState } from './view.js';

type Change = (patch: Partial<ViewState>) => void;

/** Keys that name an event's columns rather than a property (as the API reads them). */
const COLUMNS = ['event_type', 'user_id'];

/**
 * Filter chips and the breakdown selector for the active users chart and top events (and
 * the filters for the funnel). Keys and values are offered from `/stats/properties` of the
 * view's range; a value can also be typed.
 */
export class ExploreBar {
  private readonly chips = byId<HTMLUListElement>('chips');
  private readonly key = byId<HTMLSelectElement>('filter-key');
  private readonly value = byId<HTMLInputElement>('filter-value');
  private readonly values = byId<HTMLDataListElement>('filter-values');
  private readonly breakdown = byId<HTMLSelectElement>('breakdown');
  private readonly note = byId('explore-note');
  private properties: Property[] = [];
  private types: string[] = [];
  private state: ViewState | undefined;
  private signature = '';

  constructor(private readonly change: Change) {
    this.key.addEventListener('change', () => this.offerValues());
    byId('filter-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const where = this.state?.where ?? [];
      const filter: Filter = { key: this.key.value, value: this.value.value };
      if (!filter.key || where.length >= MAX_FILTERS) return;
      if (where.some((f) => filterText(f) === filterText(filter))) return;
      this.value.value = '';
      this.change({ where: [...where, filter] });
    });
    this.breakdown.addEventListener('change', () =>
      this.change({ breakdown: this.breakdown.value || null }),
    );
  }

  /** The bar for a state, with the keys and values of the range (or why there are none). */
  show(state: ViewState, properties: Property[], types: string[], problem: string | null): void {
    this.state = state;
    this.properties = properties;
    this.types = types;
    const signature = JSON.stringify([state.where, state.breakdown, properties, types, problem]);
    if (signature === this.signature) return;
    this.signature = signature;
    this.chips.replaceChildren(
      ...state.where.map((filter, i) => {
        const item = element('li');
        const chip = element('button', `${filter.key} = ${filter.value}`, 'chip');
        chip.type = 'button';
        chip.setAttribute('aria-label', `Remove filter ${filter.key} = ${filter.value}`);
        chip.addEventListener('click', () =>
          this.change({ where: state.where.filter((_, j) => j !== i) }),
        );
        item.append(chip);
        return item;
      }),
    );
    const keys = properties.map((p) => p.key);
    const chosen = this.key.value;
    this.key.replaceChildren(
      new Option('Choose a property…', ''),
      ...[...keys, ...COLUMNS].map((key) => new Option(key, key)),
    );
    if ([...keys, ...COLUMNS].includes(chosen)) this.key.value = chosen;
    this.offerValues();
    const by = [...keys, 'event_type'];
    if (state.breakdown && !by.includes(state.breakdown)) by.push(state.breakdown);
    this.breakdown.replaceChildren(
      new Option('Nothing', ''),
      ...by.map((key) => new Option(key, key)),
    );
    this.breakdown.value = state.breakdown ?? '';
    this.note.textContent =
      problem ??
      (keys.length === 0
        ? 'No event of this range has properties to filter on; event_type and user_id still work.'
        : 'Filters and the breakdown apply to the active users chart and top events, filters to the funnel too; the numbers at the top and retention count every event.');
  }

  /** The most frequent values of the chosen key, as suggestions. */
  private offerValues(): void {
    const key = this.key.value;
    const values =
      key === 'event_type'
        ? this.types
        : (this.properties.find((p) => p.key === key)?.values.map((v) => v.value) ?? []);
    this.values.replaceChildren(...values.map((v) => new Option(v, v)));
  }
}
