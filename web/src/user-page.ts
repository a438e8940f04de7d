import { ApiError, answer, api } from './api/client.js';
import { formatLocalTime } from './dates.js';
import { byId, element, setPanelError } from './dom.js';
import { type Exact, parseExact, stringifyExact } from './exact-json.js';
import { formatCount } from './format.js';

const PAGE_SIZE = 50;

interface TimelineEvent {
  event_id: string;
  occurred_at: string;
  event_type: string;
  properties: Exact;
}

/**
 * A user's page: the profile (`GET /users/{id}`), then the timeline newest first
 * (`/users/{id}/events`), one page at a time: "Load more" asks for the events before the
 * last one shown (the API's cursor), so events written meanwhile never repeat or skip one.
 */
export class UserPage {
  private readonly section = byId('user-page');
  private readonly profilePanel = byId('user-page').querySelector('.panel') as HTMLElement;
  private readonly timelinePanel = byId('timeline-panel');
  private readonly timeline = byId<HTMLOListElement>('timeline');
  private readonly more = byId<HTMLButtonElement>('timeline-more');
  private cursor: string | null = null;
  /** project, user and zone of what is shown; a newer `show` makes older answers stale. */
  private shown = '';
  private tz = 'UTC';
  private userId = '';

  constructor() {
    this.more.addEventListener('click', () => void this.loadMore());
  }

  /** Shows a user; nothing is fetched again when the same user is shown already. */
  async show(project: string, userId: string, tz: string): Promise<'ok' | 401 | 403> {
    const key = `${project}\0${userId}\0${tz}`;
    if (key === this.shown) return 'ok';
    this.shown = key;
    this.userId = userId;
    this.tz = tz;
    this.cursor = null;
    byId('user-id').textContent = userId;
    byId('timeline-title').textContent = `Timeline, newest first (times in ${tz})`;
    byId('user-note').textContent = 'Loading…';
    byId('user-note').hidden = false;
    byId('user-profile').hidden = true;
    byId('user-types').hidden = true;
    this.timeline.replaceChildren();
    this.more.hidden = true;
    byId('timeline-note').hidden = true;
    setPanelError(this.profilePanel, null);
    setPanelError(this.timelinePanel, null);
    this.timelinePanel.hidden = false;

    const [profile, page] = await Promise.allSettled([
      answer(api.GET('/users/{user_id}', { params: { path: { user_id: userId } } })),
      this.fetchPage(),
    ]);
    if (key !== this.shown) return 'ok';
    const denied = [profile, page].find(
      (r): r is PromiseRejectedResult =>
        r.status === 'rejected' &&
        r.reason instanceof ApiError &&
        (r.reason.status === 401 || r.reason.status === 403),
    );
    if (denied) {
      this.shown = '';
      return (denied.reason as ApiError).status as 401 | 403;
    }
    if (profile.status === 'rejected') {
      const error = profile.reason as ApiError;
      byId('user-note').hidden = error.status === 404;
      byId('user-note').textContent = '';
      setPanelError(
        this.profilePanel,
        error.status === 404
          ? `No user “${userId}” in this project.`
          : `Could not load: ${error.message}`,
      );
      this.timelinePanel.hidden = true;
      if (error.status !== 404) this.shown = ''; // try again on the next refresh
      return 'ok';
    }
    const p = profile.value;
    byId('user-note').hidden = true;
    byId('user-profile').hidden = false;
    this.setTime('user-first', p.first_seen_at);
    this.setTime('user-last', p.last_seen_at);
    byId('user-events').textContent = formatCount(p.events);
    const types = byId<HTMLTableElement>('user-types');
    types.hidden = p.event_types.length === 0;
    types.tBodies[0]?.replaceChildren(
      ...p.event_types.map((t) => {
        const row = element('tr');
        const name = element('th', t.event_type);
        name.scope = 'row';
        row.append(name, element('td', formatCount(t.count), 'num'));
        return row;
      }),
    );
    this.showPage(page);
    return 'ok';
  }

  /** Leaves the page: the next `show` loads afresh. */
  hide(): void {
    this.shown = '';
    this.section.hidden = true;
  }

  private setTime(id: string, iso: string): void {
    const time = byId<HTMLTimeElement>(id);
    time.dateTime = iso;
    time.textContent = `${formatLocalTime(iso, this.tz)} (${this.tz})`;
    time.title = iso;
  }

  private async fetchPage(): Promise<{ events: TimelineEvent[]; next_cursor: string | null }> {
    const text = await answer(
      api.GET('/users/{user_id}/events', {
        params: {
          path: { user_id: this.userId },
          query: { limit: PAGE_SIZE, ...(this.cursor ? { before: this.cursor } : {}) },
        },
        parseAs: 'text',
      }),
    );
    return parseExact(text) as { events: TimelineEvent[]; next_cursor: string | null };
  }

  private showPage(
    page: PromiseSettledResult<{ events: TimelineEvent[]; next_cursor: string | null }>,
  ): void {
    if (page.status === 'rejected') {
      const error = page.reason as ApiError;
      setPanelError(this.timelinePanel, `Could not load: ${error.message}`);
      this.more.hidden = this.cursor === null;
      return;
    }
    setPanelError(this.timelinePanel, null);
    const { events, next_cursor } = page.value;
    this.timeline.append(
      ...events.map((e) => {
        const item = element('li');
        item.dataset.eventId = e.event_id;
        const time = element('time', formatLocalTime(e.occurred_at, this.tz));
        time.dateTime = e.occurred_at;
        time.title = e.occurred_at;
        item.append(
          time,
          element('strong', e.event_type),
          element('code', stringifyExact(e.properties)),
        );
        return item;
      }),
    );
    this.cursor = next_cursor;
    this.more.hidden = next_cursor === null;
    const note = byId('timeline-note');
    note.hidden = this.timeline.children.length > 0 && next_cursor !== null;
    note.textContent =
      this.timeline.children.length === 0
        ? 'No events stored for this user.'
        : `All ${formatCount(this.timeline.children.length)} events shown.`;
  }

  private async loadMore(): Promise<void> {
    const key = this.shown;
    this.more.disabled = true;
    this.more.textContent = 'Loading…';
    const page = await Promise.allSettled([this.fetchPage()]);
    this.more.disabled = false;
    this.more.textContent = 'Load more';
    if (key !== this.shown || !page[0]) return;
    this.showPage(page[0]);
  }
}

/** The "Find a user" box: suggestions of the ids starting with what is typed, then `open`. */
export function setUpUserSearch(open: (userId: string) => void): void {
  const query = byId<HTMLInputElement>('user-query');
  let timer: number | undefined;
  const suggest = async (prefix: string) => {
    const found = await answer(
      api.GET('/users', { params: { query: { prefix, limit: 10 } } }),
    ).catch(() => ({ users: [] }));
    if (query.value.trim() !== prefix) return; // typed on meanwhile
    byId('user-suggestions').replaceChildren(
      ...found.users.map((u) => new Option(u.user_id, u.user_id)),
    );
  };
  query.addEventListener('input', () => {
    clearTimeout(timer);
    const prefix = query.value.trim();
    if (prefix) timer = window.setTimeout(() => void suggest(prefix), 200);
  });
  byId('user-search').addEventListener('submit', (event) => {
    event.preventDefault();
    const user = query.value.trim();
    if (user) open(user);
  });
}
