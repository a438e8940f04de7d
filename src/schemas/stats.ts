import { Type } from '@sinclair/typebox';

const DateString = (description: string, example: string) =>
  Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description, examples: [example] });

const Tz = Type.Optional(
  Type.String({
    description: 'IANA time zone deciding which calendar day an event belongs to (default UTC)',
    examples: ['Europe/Kyiv'],
  }),
);

export const RangeQuery = Type.Object({
  from: Type.Optional(
    DateString('First day, inclusive (default: 29 days before `to`)', '2025-10-19'),
  ),
  to: Type.Optional(DateString('Last day, inclusive (default: today)', '2025-10-25')),
  tz: Tz,
});

export const DauResponse = Type.Array(
  Type.Object({
    date: Type.String({ examples: ['2025-10-19'] }),
    unique_users: Type.Integer({ examples: [3] }),
  }),
  {
    description: 'One entry per day of the range, ascending; days without events have 0',
    examples: [
      [
        { date: '2025-10-19', unique_users: 3 },
        { date: '2025-10-20', unique_users: 5 },
      ],
    ],
  },
);

export const TopEventsQuery = Type.Object({
  ...RangeQuery.properties,
  limit: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 10,
    description: 'At most this many types',
  }),
});

export const TopEventsResponse = Type.Array(
  Type.Object({
    event_type: Type.String({ examples: ['purchase'] }),
    count: Type.Integer({ description: 'Events of this type in the range', examples: [376] }),
    unique_users: Type.Integer({
      description: 'Distinct users with such an event in the range',
      examples: [120],
    }),
  }),
  {
    description: 'By count descending, ties by event_type ascending',
    examples: [[{ event_type: 'purchase', count: 376, unique_users: 120 }]],
  },
);

export const RetentionQuery = Type.Object({
  start_date: DateString('Cohort day: users whose first event ever is on this day', '2025-10-19'),
  windows: Type.Integer({
    minimum: 0,
    maximum: 60,
    default: 3,
    description: 'Days after start_date to report (N gives days 0..N)',
  }),
  tz: Tz,
});

export const RetentionResponse = Type.Object(
  {
    start_date: Type.String({ examples: ['2025-10-19'] }),
    cohort_size: Type.Integer({ examples: [3] }),
    windows: Type.Array(
      Type.Object({
        day: Type.Integer({ examples: [1] }),
        count: Type.Integer({
          description: 'Cohort users active on start_date + day',
          examples: [2],
        }),
        rate: Type.Number({
          description: 'count / cohort_size, 4 decimals; 0 for an empty cohort',
          examples: [0.6667],
        }),
      }),
    ),
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
