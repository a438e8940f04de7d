/**
 * The page's state as it lives in the URL, so a reload, the back button and a copied link all
 * open the same view: `/?project=web&from=2025-10-01&to=2025-10-25&tz=Europe/Kyiv&period=week`.
 * Only what was chosen is written; what is left out takes its default (the project's main
 * zone, the last 30 days, day cohorts, the `default` project or the key's own).
 *
 * Pure functions of strings, tested in Node (test/web/view.test.ts).
 */

export const RANGE_PRESETS = [7, 30, 90] as const;
export type Preset = (typeof RANGE_PRESETS)[number];
export const DEFAULT_PRESET: Preset = 30;

/** The funnel's window choices; another valid `<n>m|h|d` from a URL is kept as it is. */
export const FUNNEL_WINDOWS = ['1h', '1d', '7d', '14d', '30d', '90d'] as const;
export const DEFAULT_WINDOW = '7d';
export const MIN_STEPS = 2;
export const MAX_STEPS = 5;
/** The API takes at most 20 `where` filters. */
export const MAX_FILTERS = 20;

export type Range = { last: Preset } | { from: string; to: string };

export interface Filter {
  key: string;
  value: string;
}

export interface ViewState {
  /** null: the server's choice (`default` with AUTH=off, the key's project with a key). */
  project: string | null;
  range: Range;
  /** null: the project's main zone. */
  tz: string | null;
  period: 'day' | 'week';
  /** `where=key:value` chips, all of which must hold (DAU chart, top events, funnel). */
  where: Filter[];
  /** Break the active users chart and top events down by this property. */
  breakdown: string | null;
  /** Funnel steps, in order (shown once there are at least two). */
  steps: string[];
  window: string;
  /** The funnel step (1-based) shown broken down, and by which property. */
  step: number | null;
  stepBy: string | null;
  /** The user page instead of the dashboard. */
  user: string | null;
}

export const DEFAULT_STATE: ViewState = {
  project: null,
  range: { last: DEFAULT_PRESET },
  tz: null,
  period: 'day',
  where: [],
  breakdown: null,
  steps: [],
  window: DEFAULT_WINDOW,
  step: null,
  stepBy: null,
  user: null,
};

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const WINDOW = /^[1-9]\d{0,4}[mhd]$/;
/** Parameters this module owns; any other (`refresh`) is carried over untouched. */
const OWN = [
  'project',
  'range',
  'from',
  'to',
  'tz',
  'period',
  'where',
  'breakdown',
  'steps',
  'window',
  'step',
  'step_by',
  'user',
];

const nonEmpty = (value: string | null): string | null =>
  value === null || value.trim() === '' ? null : value.trim();

/** A filter's text `key:value`, split at the first colon as the API splits it. */
export function parseFilter(text: string): Filter | null {
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  return { key: text.slice(0, colon), value: text.slice(colon + 1) };
}

export const filterText = (f: Filter): string => `${f.key}:${f.value}`;

/**
 * The state a query string describes. Anything malformed falls back to its default rather
 * than failing the page: a date that is not YYYY-MM-DD is dropped (both dates are needed for
 * a custom range), an unknown period is `day`. A zone is kept as written: the page checks
 * it against the zones it knows.
 */
export function parseView(search: string): ViewState {
  const params = new URLSearchParams(search);
  const from = nonEmpty(params.get('from'));
  const to = nonEmpty(params.get('to'));
  const preset = Number(params.get('range'));
  let range: Range = { last: DEFAULT_PRESET };
  if (from && to && DAY.test(from) && DAY.test(to)) range = { from, to };
  else if ((RANGE_PRESETS as readonly number[]).includes(preset))
    range = { last: preset as Preset };

  const steps = [
    ...new Set(
      (params.get('steps') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ].slice(0, MAX_STEPS);
  const window = nonEmpty(params.get('window'));
  const step = Number(params.get('step'));
  const where = params
    .getAll('where')
    .map(parseFilter)
    .filter((f): f is Filter => f !== null)
    .slice(0, MAX_FILTERS);
  return {
    project: nonEmpty(params.get('project')),
    range,
    tz: nonEmpty(params.get('tz')),
    period: params.get('period') === 'week' ? 'week' : 'day',
    where,
    breakdown: nonEmpty(params.get('breakdown')),
    steps,
    window: window && WINDOW.test(window) ? window : DEFAULT_WINDOW,
    step: Number.isInteger(step) && step >= 1 && step <= steps.length ? step : null,
    stepBy: nonEmpty(params.get('step_by')),
    user: nonEmpty(params.get('user')),
  };
}

/**
 * The query string of a state (with a leading `?`, or '' for the default view), keeping
 * the parameters of `current` that are not the view's own (`refresh`).
 */
export function viewSearch(state: ViewState, current = ''): string {
  const params = new URLSearchParams(current);
  for (const name of OWN) params.delete(name);
  if (state.project) params.set('project', state.project);
  if ('from' in state.range) {
    params.set('from', state.range.from);
    params.set('to', state.range.to);
  } else if (state.range.last !== DEFAULT_PRESET) {
    params.set('range', String(state.range.last));
  }
  if (state.tz) params.set('tz', state.tz);
  if (state.period !== 'day') params.set('period', state.period);
  for (const filter of state.where) params.append('where', filterText(filter));
  if (state.breakdown) params.set('breakdown', state.breakdown);
  if (state.steps.length > 0) params.set('steps', state.steps.join(','));
  if (state.window !== DEFAULT_WINDOW) params.set('window', state.window);
  if (state.step !== null) params.set('step', String(state.step));
  if (state.stepBy) params.set('step_by', state.stepBy);
  if (state.user) params.set('user', state.user);
  const text = [...params].map(([name, value]) => `${encode(name)}=${encode(value)}`).join('&');
  return text ? `?${text}` : '';
}

/** A query component, leaving `/`, `:` and `,` readable (`tz=Europe/Kyiv`, `where=plan:pro`). */
const encode = (text: string): string =>
  encodeURIComponent(text).replace(/%(2F|3A|2C)/gi, (escaped) => decodeURIComponent(escaped));

/** The choices that belong to one project's data, cleared when the project changes. */
export function forOtherProject(state: ViewState, project: string): ViewState {
  return {
    ...state,
    project,
    tz: null,
    where: [],
    breakdown: null,
    steps: [],
    step: null,
    stepBy: null,
    user: null,
  };
}
