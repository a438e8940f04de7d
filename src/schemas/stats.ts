import { Type } from '@sinclair/typebox';
import {
  DEFAULT_BREAKDOWN_LIMIT,
  MAX_BREAKDOWN_LIMIT,
  MAX_FILTERS,
  MAX_KEY_LENGTH,
  MAX_VALUE_LENGTH,
} from '../stats/filters.js';

const DateString = (description: string, example: string) =>
  Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description, examples: [example] });

const Tz = Type.Optional(
  Type.String({
    description:
      "IANA time zone deciding which calendar day an event belongs to (default: the project's main zone)",
    examples: ['Europe/Kyiv'],
  }),
);

/** The project asked about, on every route (AUTH=off; with keys the key decides). */
export const ProjectParam = Type.Optional(
  Type.String({
    description:
      'Project slug (AUTH=off; also the X-Project header; default `default`). With AUTH=required the key decides, and another project is a 404.',
    examples: ['web'],
  }),
);

export const RangeQuery = Type.Object({
  from: Type.Optional(
    DateString('First day, inclusive (default: 29 days before `to`)', '2025-10-19'),
  ),
  to: Type.Optional(DateString('Last day, inclusive (default: today)', '2025-10-25')),
  tz: Tz,
  project: ProjectParam,
});

/** Filters and breakdowns of exploration (docs/exploration.md); parsed by src/stats/filters.ts. */
export const WhereParam = Type.Optional(
  Type.Array(Type.String({ maxLength: MAX_KEY_LENGTH + 1 + MAX_VALUE_LENGTH }), {
    maxItems: MAX_FILTERS,
    description:
      "`<key>:<value>`, repeatable, all must hold: the event's top-level property `<key>` is a " +
      'JSON string, number or boolean whose text is `<value>` (`plan:pro`, `premium:true`, ' +
      '`build:1042`); `<key>` may be `event_type` or `user_id`. A missing key never matches. ' +
      'A filtered question reads raw events of the range.',
    examples: [['plan:pro']],
  }),
);

export const BreakdownParams = {
  breakdown: Type.Optional(
    Type.String({
      maxLength: MAX_KEY_LENGTH,
      description:
        'Property key (or `event_type`, `user_id`) to break the answer down by: each row gains ' +
        "`breakdown`, the value's text (null when the event has none)",
      examples: ['platform'],
    }),
  ),
  breakdown_limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_BREAKDOWN_LIMIT,
      description:
        `The values with the most users over the range that get rows of their own (default ` +
        `${DEFAULT_BREAKDOWN_LIMIT}); the rest are summed as \`$other\`, a user counted once`,
    }),
  ),
};

/** A row's `breakdown` (a function: a named schema would have to be used as it is). */
export const breakdownField = () =>
  Type.Optional(
    Type.Union([Type.String(), Type.Null()], {
      description:
        "With `breakdown`: the value's text, null for events without one, or `$other` for the values past `breakdown_limit`",
      examples: ['ios'],
    }),
  );

export const DauQuery = Type.Object({
  ...RangeQuery.properties,
  where: WhereParam,
  ...BreakdownParams,
});

export const DauDay = Type.Object({
  date: Type.String({ examples: ['2025-10-19'] }),
  unique_users: Type.Integer({ examples: [3] }),
  breakdown: breakdownField(),
});

export const DauResponse = Type.Array(DauDay, {
  description: 'One entry per day of the range, ascending; days without events have 0',
  examples: [
    [
      { date: '2025-10-19', unique_users: 3 },
      { date: '2025-10-20', unique_users: 5 },
    ],
  ],
});

export const TopEventsQuery = Type.Object({
  ...RangeQuery.properties,
  limit: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 10,
    description: 'At most this many types',
  }),
  where: WhereParam,
  ...BreakdownParams,
});

export const TopEvent = Type.Object({
  event_type: Type.String({ examples: ['purchase'] }),
  count: Type.Integer({ description: 'Events of this type in the range', examples: [376] }),
  unique_users: Type.Integer({
    description: 'Distinct users with such an event in the range',
    examples: [120],
  }),
  breakdown: breakdownField(),
});

export const TopEventsResponse = Type.Array(TopEvent, {
  description: 'By count descending, ties by event_type ascending',
  examples: [[{ event_type: 'purchase', count: 376, unique_users: 120 }]],
});

export const RetentionQuery = Type.Object({
  start_date: DateString('Cohort day: users whose first event ever is on this day', '2025-10-19'),
  windows: Type.Integer({
    minimum: 0,
    maximum: 60,
    default: 3,
    description: 'Days after start_date to report (N gives days 0..N)',
  }),
  tz: Tz,
  project: ProjectParam,
});

export const RetentionWindow = Type.Object({
  day: Type.Integer({ examples: [1] }),
  count: Type.Integer({
    description: 'Cohort users active on start_date + day',
    examples: [2],
  }),
  rate: Type.Number({
    description: 'count / cohort_size, 4 decimals; 0 for an empty cohort',
    examples: [0.6667],
  }),
});

export const RetentionResponse = Type.Object(
  {
    start_date: Type.String({ examples: ['2025-10-19'] }),
    cohort_size: Type.Integer({ examples: [3] }),
    windows: Type.Array(RetentionWindow),
  },
  {
    examples: [
      {
        start_date: '2025-10-19',
        cohort_size: 3,
        windows: [
          { day: 0, count: 3, rate: 1 },
          { day: 1, count: 2, rate: 0.6667 },
        ],
      },
    ],
  },
);

export const ActiveUsersQuery = Type.Object({
  from: Type.Optional(
    DateString('First day, inclusive (default: 29 days before `to`)', '2025-10-19'),
  ),
  to: Type.Optional(DateString('Last day, inclusive (default: today)', '2025-10-25')),
  tz: Tz,
  project: ProjectParam,
  where: WhereParam,
});

export const ActiveUsersDay = Type.Object({
  date: Type.String({ examples: ['2025-10-19'] }),
  dau: Type.Integer({ description: 'Distinct users active on this day', examples: [3] }),
  wau: Type.Integer({
    description: 'Distinct users active in the 7 days ending on this day',
    examples: [9],
  }),
  mau: Type.Integer({
    description: 'Distinct users active in the 30 days ending on this day',
    examples: [21],
  }),
});

export const ActiveUsersResponse = Type.Array(ActiveUsersDay, {
  description: 'One entry per day of the range, ascending; days without events have 0',
  examples: [
    [
      { date: '2025-10-19', dau: 3, wau: 9, mau: 21 },
      { date: '2025-10-20', dau: 5, wau: 10, mau: 22 },
    ],
  ],
});

export const RetentionMatrixQuery = Type.Object({
  from: Type.Optional(
    DateString(
      'First cohort day, inclusive (default: 29 days before `to`); for weeks, its ISO week',
      '2025-10-01',
    ),
  ),
  to: Type.Optional(
    DateString(
      'Last cohort day, inclusive (default: today); for weeks, its ISO week',
      '2025-10-30',
    ),
  ),
  windows: Type.Integer({
    minimum: 0,
    maximum: 30,
    default: 7,
    description: 'Periods after the cohort to report (N gives periods 0..N; at most 12 for weeks)',
  }),
  period: Type.Union([Type.Literal('day'), Type.Literal('week')], {
    default: 'day',
    description: 'Cohorts and periods are local days, or ISO weeks starting on Monday',
  }),
  tz: Tz,
  project: ProjectParam,
});

export const RetentionCohort = Type.Object({
  start_date: Type.String({
    description: 'First day of the cohort (a Monday for weeks)',
    examples: ['2025-10-01'],
  }),
  size: Type.Integer({
    description: 'Users whose first event ever falls in the cohort period',
    examples: [120],
  }),
  counts: Type.Array(Type.Integer(), {
    description:
      'Entry n: cohort users active in period n after the cohort (entry 0 is the size); ' +
      'periods that have not ended yet are left out',
    examples: [[120, 48, 30]],
  }),
  rates: Type.Array(Type.Number(), {
    description: 'counts / size, rounded half-up to 4 decimals; 0 for an empty cohort',
    examples: [[1, 0.4, 0.25]],
  }),
});

export const RetentionMatrixResponse = Type.Object(
  {
    period: Type.Union([Type.Literal('day'), Type.Literal('week')]),
    cohorts: Type.Array(RetentionCohort),
  },
  {
    examples: [
      {
        period: 'day',
        cohorts: [
          { start_date: '2025-10-01', size: 120, counts: [120, 48, 30], rates: [1, 0.4, 0.25] },
        ],
      },
    ],
  },
);

export const OverviewQuery = Type.Object({ tz: Tz, project: ProjectParam });

export const OverviewResponse = Type.Object(
  {
    date: Type.String({ description: 'Today in `tz`', examples: ['2025-10-25'] }),
    events_today: Type.Integer({ description: 'Events on that day', examples: [5120] }),
    active_users_today: Type.Integer({
      description: 'Distinct users with an event on that day',
      examples: [812],
    }),
  },
  { examples: [{ date: '2025-10-25', events_today: 5120, active_users_today: 812 }] },
);

export const LiveResponse = Type.Object(
  {
    events_last_minute: Type.Integer({
      description: 'Events stored by this process in about the last 60 s',
      examples: [1200],
    }),
    events_per_second: Type.Number({
      description: 'events_last_minute / 60, rounded to 2 decimals',
      examples: [20],
    }),
  },
  { description: "Ingest rate of the request's project in this server process" },
);
