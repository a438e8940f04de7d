/** Response shapes of the endpoints the page reads (see the OpenAPI document at /docs). */
export interface ActiveUsersDay {
  date: string;
  dau: number;
  wau: number;
  mau: number;
}

export interface TopEvent {
  event_type: string;
  count: number;
  unique_users: number;
}

export type Period = 'day' | 'week';

export interface RetentionCohort {
  start_date: string;
  size: number;
  /** Entries for periods that have not ended yet are left out, so these can be short. */
  counts: number[];
  rates: number[];
}

export interface RetentionMatrix {
  period: Period;
  cohorts: RetentionCohort[];
}

export interface Overview {
  date: string;
  events_today: number;
  active_users_today: number;
}

export interface Live {
  events_last_minute: number;
  events_per_second: number;
}
