import './styles.css';
import { ActiveUsersChart, breakdownSeries } from './active-users-chart.js';
import {
  ApiError,
  answer,
  api,
  forgetReadKey,
  type Period,
  type Project,
  readKey,
  saveReadKey,
  type TopEvent,
  useProject,
} from './api/client.js';
import { Catalog } from './catalog.js';
import {
  addDays,
  browserTimeZone,
  daysBetween,
  lastDays,
  MAX_RANGE_DAYS,
  timeZones,
  todayIn,
} from './dates.js';
import { byId, setPanelError } from './dom.js';
import { ExploreBar } from './explore-bar.js';
import { formatCount, formatRate } from './format.js';
import { FunnelPanel } from './funnel-panel.js';
import { KeyDialog } from './key-dialog.js';
import { refreshMs } from './refresh.js';
import { renderRetention } from './retention-heatmap.js';
import { renderTopEvents } from './top-events.js';
import { setUpUserSearch, UserPage } from './user-page.js';
import {
  filterText,
  forOtherProject,
  type Preset,
  parseView,
  type ViewState,
  viewSearch,
} from './view.js';

const RETENTION_WINDOWS = 7;
const TOP_EVENTS_LIMIT = 10;

/** A state with its defaults filled in: what the requests ask for. */
interface View {
  project: Project;
  from: string;
  to: string;
  tz: string;
  period: Period;
}

const controls = {
  project: byId<HTMLSelectElement>('project'),
  range: byId<HTMLSelectElement>('range'),
  custom: byId('custom-range'),
  from: byId<HTMLInputElement>('from'),
  to: byId<HTMLInputElement>('to'),
  tz: byId<HTMLSelectElement>('tz'),
};
const main = byId('main');
const status = byId('status');
const banner = byId('banner');
const panels = {
  active: byId('active-panel'),
  top: byId('top-panel'),
  retention: byId('retention-panel'),
};
const chart = new ActiveUsersChart(byId('active-chart'), byId<HTMLTableElement>('active-table'));
const exploreBar = new ExploreBar((patch) => change({ ...state, ...patch }));
const funnel = new FunnelPanel((patch) => change({ ...state, ...patch }));
const userPage = new UserPage();

const catalog = new Catalog();
const keyDialog = new KeyDialog();
const interval = refreshMs(location.search);

/** The state the controls describe (a user's change), on top of the current one. */
function stateFromControls(): ViewState {
  const range: ViewState['range'] =
    controls.range.value === 'custom'
      ? { from: controls.from.value, to: controls.to.value }
      : { last: Number(controls.range.value) as Preset };
  const checked = document.querySelector<HTMLInputElement>('input[name="period"]:checked');
  const project = selectedProject();
  return {
    ...state,
    range,
    // The main zone stays implicit (follows the project) until another zone is picked.
    tz: project && controls.tz.value === project.time_zones[0] ? null : controls.tz.value,
    period: checked?.value === 'week' ? 'week' : 'day',
  };
}

/**
 * The view a state asks for with its defaults filled in, or a sentence saying what is
 * wrong with it. `notes` gathers what was asked for but cannot be shown (said on the page).
 */
function resolveView(s: ViewState, project: Project, notes: string[]): View | string {
  const known = new Set(zoneList);
  let tz = project.time_zones[0] ?? 'UTC';
  if (s.tz !== null) {
    if (known.has(s.tz)) tz = s.tz;
    else notes.push(`Unknown time zone “${s.tz}”: showing ${tz}, the project’s main zone.`);
  }
  if ('last' in s.range) return { project, ...lastDays(s.range.last, tz), tz, period: s.period };
  const { from, to } = s.range;
  if (!from || !to) return 'Choose both dates of the custom range.';
  if (from > to) return 'The custom range starts after it ends.';
  if (daysBetween(from, to) > MAX_RANGE_DAYS)
    return `A range can span at most ${MAX_RANGE_DAYS} days.`;
  return { project, from, to, tz, period: s.period };
}

function showBanner(message: string | null, offerKey = false): void {
  banner.hidden = message === null;
  byId('banner-text').textContent = message ?? '';
  byId('banner-key').hidden = !offerKey;
}

function setText(id: string, text: string): void {
  byId(id).textContent = text;
}

/**
 * Fetches everything the view needs; each panel shows its own answer or its own error.
 * Answers for a view the user has already left (`isCurrent` false) are dropped.
 */
async function load(view: View, isCurrent: () => boolean): Promise<'ok' | 'stale' | 401 | 403> {
  const offered = await catalog.load({ ...view, project: view.project.slug });
  if (!isCurrent()) return 'stale';
  exploreBar.show(state, offered.properties, offered.types, offered.problem);
  funnel.showControls(
    state,
    offered.types,
    offered.properties.map((p) => p.key),
  );
  const range = { from: view.from, to: view.to, tz: view.tz };
  const where = state.where.map(filterText);
  const filtered = { ...range, ...(where.length > 0 ? { where } : {}) };
  const by = state.breakdown;
  const funnelQuery = FunnelPanel.wanted(state)
    ? { ...filtered, steps: state.steps.join(','), window: state.window }
    : null;
  const stepBy = state.stepBy ?? offered.properties[0]?.key ?? null;
  const detail =
    funnelQuery && state.step !== null && stepBy ? { step: state.step, by: stepBy } : null;
  if (funnelQuery) funnel.loading();
  const [overview, live, active, top, retention, funnelSteps, funnelDetail] =
    await Promise.allSettled([
      answer(api.GET('/stats/overview', { params: { query: { tz: view.tz } } })),
      answer(api.GET('/stats/live')),
      by
        ? answer(api.GET('/stats/dau', { params: { query: { ...filtered, breakdown: by } } })).then(
            breakdownSeries,
          )
        : answer(api.GET('/stats/active-users', { params: { query: filtered } })).then((days) => ({
            dates: days.map((d) => d.date),
            series: [
              { label: 'DAU', values: days.map((d) => d.dau) },
              { label: 'WAU', values: days.map((d) => d.wau) },
              { label: 'MAU', values: days.map((d) => d.mau) },
            ],
          })),
      answer(
        api.GET('/stats/top-events', {
          params: {
            query: { ...filtered, limit: TOP_EVENTS_LIMIT, ...(by ? { breakdown: by } : {}) },
          },
        }),
      ),
      answer(
        api.GET('/stats/retention-matrix', {
          params: { query: { ...range, windows: RETENTION_WINDOWS, period: view.period } },
        }),
      ),
      funnelQuery
        ? answer(api.GET('/stats/funnel', { params: { query: funnelQuery } })).then((f) => f.steps)
        : Promise.resolve(undefined),
      funnelQuery && detail
        ? answer(
            api.GET('/stats/funnel', {
              params: { query: { ...funnelQuery, breakdown: detail.by } },
            }),
          ).then((f) => ({ ...detail, rows: f.steps }))
        : Promise.resolve(null),
    ]);
  if (!isCurrent()) return 'stale';
  const results = [overview, live, active, top, retention, funnelSteps, funnelDetail];
  const failures = results.flatMap((r) =>
    r.status === 'rejected'
      ? [r.reason instanceof ApiError ? r.reason : new ApiError(0, 'error', String(r.reason))]
      : [],
  );
  // 401: no key or an unknown one; 403: a key without the read scope.
  const denied = failures.find((f) => f.status === 401 || f.status === 403);
  if (denied) return denied.status === 403 ? 403 : 401;
  // A 503 `busy` or `query_timeout` is one question refused while the server is loaded
  // (raw-event queries take turns), not an outage: its panel says so.
  const outage = (f: ApiError) =>
    (f.status === 503 && f.code !== 'busy' && f.code !== 'query_timeout') || f.status === 0;
  const unavailable = failures.find(outage);
  showBanner(
    unavailable
      ? `${unavailable.status === 503 ? 'The database is unavailable' : 'The server cannot be reached'}; retrying every ${interval / 1000} s.`
      : null,
  );

  // An outage is told once, by the banner; the panels keep their last numbers meanwhile.
  const problem = (r: PromiseSettledResult<unknown>) => {
    if (r.status === 'fulfilled') return null;
    const error = r.reason instanceof ApiError ? r.reason : null;
    if (error && outage(error)) return null;
    if (error?.status === 503) {
      return `The server is busy with other questions: retrying in ${interval / 1000} s.`;
    }
    return `Could not load: ${error?.message ?? String(r.reason)}`;
  };

  if (overview.status === 'fulfilled') {
    setText('events-today', formatCount(overview.value.events_today));
    setText('active-today', formatCount(overview.value.active_users_today));
  }
  if (live.status === 'fulfilled') {
    setText('events-per-second', formatRate(live.value.events_per_second));
    setText('events-last-minute', formatCount(live.value.events_last_minute));
  }
  const filterNote = where.length > 0 ? ', filtered' : '';
  if (active.status === 'fulfilled') {
    chart.render(active.value.dates, active.value.series);
    setText(
      'active-title',
      by
        ? `Daily active users by ${by}${filterNote}`
        : `Active users: daily, weekly, monthly${filterNote}`,
    );
    const none = active.value.series.every((s) => s.values.every((v) => v === 0));
    byId('active-empty').hidden = !(none && where.length > 0);
    byId('active-empty').textContent = 'No events match these filters in this range.';
  }
  setPanelError(panels.active, problem(active));
  if (top.status === 'fulfilled') {
    renderTopEvents(byId<HTMLTableElement>('top-table'), top.value as TopEvent[], by);
    setText('top-title', `Top events${by ? ` by ${by}` : ''}${filterNote}`);
    byId('top-empty').hidden = top.value.length > 0;
    byId('top-empty').textContent =
      where.length > 0
        ? 'No events match these filters in this range.'
        : 'No events in this range.';
  }
  setPanelError(panels.top, problem(top));
  if (retention.status === 'fulfilled') {
    const table = byId<HTMLTableElement>('retention-table');
    renderRetention(
      table.tHead as HTMLTableSectionElement,
      table.tBodies[0] as HTMLTableSectionElement,
      retention.value,
      RETENTION_WINDOWS,
    );
  }
  setPanelError(panels.retention, problem(retention));
  if (funnelSteps.status === 'fulfilled' && funnelDetail.status === 'fulfilled') {
    funnel.render(funnelSteps.value, funnelDetail.value);
  } else funnel.failed();
  setPanelError(funnel.panel, problem(funnelSteps) ?? problem(funnelDetail));

  if (top.status === 'fulfilled' && where.length === 0) {
    await showEmptyState(top.value.length === 0, view.tz, isCurrent);
  }
  return 'ok';
}

/**
 * A database with no events at all gets the "send your first event" card instead of empty
 * charts; a range that merely has no events keeps the charts (with zeros).
 */
async function showEmptyState(
  rangeEmpty: boolean,
  tz: string,
  isCurrent: () => boolean,
): Promise<void> {
  let fresh = false;
  if (rangeEmpty) {
    const today = todayIn(tz);
    // The widest range the API allows, up to tomorrow (events may be up to 24 h ahead).
    const anyEvent = await answer(
      api.GET('/stats/top-events', {
        params: {
          query: {
            from: addDays(today, -(MAX_RANGE_DAYS - 2)),
            to: addDays(today, 1),
            tz,
            limit: 1,
          },
        },
      }),
    ).catch(() => [{}]);
    fresh = anyEvent.length === 0;
    if (!isCurrent()) return;
  }
  byId('empty').hidden = !fresh;
  byId('panels').hidden = fresh;
  byId('headline').hidden = fresh;
  byId('explore-bar').hidden = fresh;
}

let generation = 0;
let timer: number | undefined;
let askedForKey = false;
/** What the URL asks for; every user change pushes a new history entry. */
let state: ViewState = parseView(location.search);
/** The projects the key (or AUTH=off) reaches; undefined until loaded (again after a new key). */
let projects: Project[] | undefined;
const zoneList = timeZones(browserTimeZone());

function selectedProject(): Project | undefined {
  return projects?.find((p) => p.slug === controls.project.value);
}

/**
 * The project the state names when it can be reached; else `default` when reachable, else
 * the first (with a key: the key's own). A named project that cannot be shown is said.
 */
function chooseProject(list: Project[], notes: string[]): Project | undefined {
  const named = state.project === null ? undefined : list.find((p) => p.slug === state.project);
  const chosen = named ?? list.find((p) => p.slug === 'default') ?? list[0];
  if (state.project !== null && !named && chosen) {
    notes.push(
      `Project “${state.project}” is not one this ${readKey() ? 'key' : 'server'} can show: showing “${chosen.slug}”.`,
    );
  }
  return chosen;
}

type Outcome = 'ok' | 'stale' | 401 | 403;

async function loadProjects(): Promise<Outcome | 'unavailable'> {
  try {
    projects = await answer(api.GET('/projects'));
    return 'ok';
  } catch (error) {
    const status = error instanceof ApiError ? error.status : 0;
    if (status === 401 || status === 403) return status;
    showBanner(
      `${status === 503 ? 'The database is unavailable' : 'The server cannot be reached'}; retrying every ${interval / 1000} s.`,
    );
    return 'unavailable';
  }
}

/** Loads the current view now and schedules the next refresh; a newer call wins. */
async function refresh(): Promise<void> {
  clearTimeout(timer);
  const mine = ++generation;
  const isCurrent = () => mine === generation;
  let outcome: Outcome | 'unavailable' = 'ok';
  // Busy from the first request on (the project list too), so nobody reads a half-drawn view.
  main.setAttribute('aria-busy', 'true');
  const idle = () => main.setAttribute('aria-busy', 'false');
  if (!projects) {
    status.textContent = 'Updating…';
    outcome = await loadProjects();
    if (!isCurrent()) return;
  }
  if (outcome === 'ok') {
    const notes: string[] = [];
    const project = projects && chooseProject(projects, notes);
    if (!project) {
      status.textContent = 'No project to show.';
      idle();
      return;
    }
    useProject(project.slug);
    showControls(project);
    const view = resolveView(state, project, notes);
    showNotice(notes);
    if (typeof view === 'string') {
      status.textContent = view;
      idle();
      return;
    }
    status.textContent = 'Updating…';
    showUserPage(state.user !== null);
    if (state.user !== null) {
      // A user's page is a record, not a live chart: it loads once, "Load more" goes on.
      const shown = await userPage.show(project.slug, state.user, view.tz);
      if (!isCurrent()) return;
      idle();
      document.body.classList.remove('loading');
      status.textContent = `${project.name}: user ${state.user}`;
      if (shown !== 'ok') await askForKey(shown);
      return;
    }
    outcome = await load(view, isCurrent);
    if (outcome === 'stale' || !isCurrent()) return;
    if (outcome === 'ok') {
      const updated = byId<HTMLTimeElement>('updated');
      const now = new Date();
      updated.dateTime = now.toISOString();
      updated.textContent = now.toLocaleTimeString('en-GB');
      status.textContent = `${view.project.name}: ${view.from} to ${view.to}, ${view.tz}`;
    }
  }
  idle();
  document.body.classList.remove('loading');
  if (outcome === 401 || outcome === 403) {
    await askForKey(outcome);
    return;
  }
  if (document.visibilityState === 'visible') {
    timer = window.setTimeout(() => void refresh(), interval);
  }
}

async function askForKey(outcome: 401 | 403): Promise<void> {
  status.textContent = 'A read key is needed.';
  const sent = readKey() !== null;
  forgetReadKey();
  // Ask once: after a cancel the banner offers the dialog again, the timer does not.
  if (askedForKey && !sent) {
    showBanner('This server needs a read key to show its numbers.', true);
    return;
  }
  askedForKey = true;
  const refused =
    outcome === 403
      ? 'That key cannot read the numbers (it needs the read scope). Try another one.'
      : sent
        ? 'That key was refused. Try another one.'
        : null;
  const key = await keyDialog.ask(refused);
  if (key === null) {
    showBanner('This server needs a read key to show its numbers.', true);
    return;
  }
  saveReadKey(key);
  projects = undefined; // another key may reach other projects
  void refresh();
}

function showNotice(notes: string[]): void {
  const notice = byId('notice');
  notice.hidden = notes.length === 0;
  notice.textContent = notes.join(' ');
}

/** Puts the state into the controls (after a load, a back/forward step or a project change). */
function showControls(project: Project): void {
  controls.project.replaceChildren(
    ...(projects ?? []).map(
      (p) => new Option(p.name === p.slug ? p.slug : `${p.name} (${p.slug})`, p.slug),
    ),
  );
  controls.project.value = project.slug;
  // The project's zones first (its main zone on top), then every other zone.
  const own = project.time_zones;
  const group = (label: string, zones: string[]) => {
    const optgroup = document.createElement('optgroup');
    optgroup.label = label;
    optgroup.append(...zones.map((zone) => new Option(zone.replaceAll('_', ' '), zone)));
    return optgroup;
  };
  const key = own.join(',');
  if (controls.tz.dataset.project !== `${project.slug}:${key}`) {
    controls.tz.replaceChildren(
      group('This project’s zones', own),
      group(
        'Other zones',
        zoneList.filter((zone) => !own.includes(zone)),
      ),
    );
    controls.tz.dataset.project = `${project.slug}:${key}`;
  }
  const tz = state.tz !== null && zoneList.includes(state.tz) ? state.tz : (own[0] ?? 'UTC');
  controls.tz.value = tz;
  const { range } = state;
  controls.range.value = 'from' in range ? 'custom' : String(range.last);
  controls.custom.hidden = !('from' in range);
  if ('from' in range) {
    controls.from.value = range.from;
    controls.to.value = range.to;
  }
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="period"]')) {
    radio.checked = radio.value === state.period;
  }
}

/** The user page instead of the dashboard's panels, or back. */
function showUserPage(on: boolean): void {
  if (on) {
    for (const id of ['explore-bar', 'headline', 'panels', 'empty']) byId(id).hidden = true;
    byId('user-page').hidden = false;
    byId<HTMLAnchorElement>('user-back').href =
      `${location.pathname}${viewSearch({ ...state, user: null }, location.search)}`;
  } else if (!byId('user-page').hidden) {
    userPage.hide();
    for (const id of ['explore-bar', 'headline', 'panels']) byId(id).hidden = false;
  }
}

/** A user's change: a new history entry, then the new view. */
function change(next: ViewState): void {
  state = next;
  const search = viewSearch(state, location.search);
  if (search !== location.search) history.pushState(null, '', `${location.pathname}${search}`);
  void refresh();
}

function setUpControls(): void {
  setText('refresh-seconds', formatRate(interval / 1000));
  setText(
    'curl',
    `curl -X POST ${location.origin}/events -H 'content-type: application/json' \\\n` +
      `  -d '[{"event_id":"${uuid()}","occurred_at":"${new Date().toISOString()}","user_id":"user-1","event_type":"signup"}]'`,
  );

  controls.project.addEventListener('change', () =>
    change(forOtherProject(state, controls.project.value)),
  );
  controls.range.addEventListener('change', () => {
    if (controls.range.value === 'custom' && !controls.from.value) {
      const { from, to } = lastDays(30, controls.tz.value);
      controls.from.value = from;
      controls.to.value = to;
    }
    change(stateFromControls());
  });
  for (const input of [controls.from, controls.to, controls.tz]) {
    input.addEventListener('change', () => change(stateFromControls()));
  }
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="period"]')) {
    radio.addEventListener('change', () => change(stateFromControls()));
  }
  // Back and forward walk through the views; the URL is already the one to show.
  window.addEventListener('popstate', () => {
    state = parseView(location.search);
    void refresh();
  });
  byId('controls').addEventListener('submit', (event) => event.preventDefault());
  setUpUserSearch((user) => change({ ...state, user }));
  byId('user-back').addEventListener('click', (event) => {
    event.preventDefault();
    change({ ...state, user: null });
  });
  byId('banner-key').addEventListener('click', () => {
    askedForKey = false;
    void refresh();
  });
  byId('copy-curl').addEventListener('click', () => {
    void navigator.clipboard?.writeText(byId('curl').textContent ?? '');
  });
  // A hidden tab does not poll; it catches up when shown again.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void refresh();
    else clearTimeout(timer);
  });
}

/** A v4 UUID for the curl example (crypto.randomUUID needs a secure context; this does not). */
function uuid(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

setUpControls();
void refresh();
