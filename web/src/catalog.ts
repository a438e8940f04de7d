import { ApiError, answer, api, type Property } from './api/client.js';

/** Event types offered as funnel steps and filter values: the range's most frequent. */
const TYPES = 100;

export interface Offered {
  /** Property keys with their most frequent values (`/stats/properties`). */
  properties: Property[];
  types: string[];
  /** Why nothing is offered, when the questions failed. */
  problem: string | null;
}

/**
 * What a view's range offers to explore: property keys and values, event types. Both read
 * raw events, so they are asked again only when the project, the range or the zone
 * changes, not on every refresh; a failure is asked again on the next one.
 */
export class Catalog {
  private key = '';
  private offered: Offered = { properties: [], types: [], problem: null };

  async load(view: { project: string; from: string; to: string; tz: string }): Promise<Offered> {
    const key = [view.project, view.from, view.to, view.tz].join('\0');
    if (key === this.key) return this.offered;
    const range = { from: view.from, to: view.to, tz: view.tz };
    const [properties, types] = await Promise.allSettled([
      answer(api.GET('/stats/properties', { params: { query: range } })),
      answer(api.GET('/stats/top-events', { params: { query: { ...range, limit: TYPES } } })),
    ]);
    const failed = [properties, types].find((r) => r.status === 'rejected');
    const eventTypes = types.status === 'fulfilled' ? types.value.map((t) => t.event_type) : [];
    this.key = failed ? '' : key;
    this.offered = {
      properties: properties.status === 'fulfilled' ? properties.value.keys : [],
      types: eventTypes,
      problem:
        failed?.status === 'rejected'
          ? `Properties to filter on could not be loaded: ${failed.reason instanceof ApiError ? failed.reason.message : String(failed.reason)}`
          : null,
    };
    return this.offered;
  }
}
