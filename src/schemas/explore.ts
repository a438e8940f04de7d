import { Type } from '@sinclair/typebox';
import { DEFAULT_WINDOW, MAX_STEPS } from '../stats/funnel.js';
import { PROPERTY_KEYS, PROPERTY_VALUES } from '../stats/properties.js';
import { DEFAULT_USER_EVENTS, MAX_USER_EVENTS, MAX_USER_SEARCH } from '../stats/users.js';
import { BreakdownParams, breakdownField, ProjectParam, RangeQuery, WhereParam } from './stats.js';

export const FunnelQuery = Type.Object({
  steps: Type.String({
    description: `2 to ${MAX_STEPS} distinct event types, comma-separated, in order`,
    examples: ['signup,activate,purchase'],
  }),
  ...RangeQuery.properties,
  window: Type.Optional(
    Type.String({
      description: `Time from a user's entry within which the later steps count: \`<n>m\`, \`<n>h\` or \`<n>d\` (default ${DEFAULT_WINDOW}, at most 90d)`,
      examples: ['7d'],
    }),
  ),
  where: WhereParam,
  ...BreakdownParams,
});

export const FunnelStep = Type.Object({
  event_type: Type.String({ examples: ['activate'] }),
  users: Type.Integer({
    description:
      'Users whose funnel level (most steps reached from any entry) is at least this step',
    examples: [48],
  }),
  conversion_from_previous: Type.Number({
    description: 'users / users of the step before, 4 decimals; 0 when that is 0',
    examples: [0.4],
  }),
  conversion_from_first: Type.Number({
    description: 'users / users of step 1, 4 decimals; 0 when that is 0',
    examples: [0.4],
  }),
  median_seconds_from_previous: Type.Union([Type.Number(), Type.Null()], {
    description:
      "Median over the users who reached this step of the time from the previous step (each user's chain from their earliest entry that reaches their level; the lower middle value for an even count); null for step 1 or a step nobody reached",
    examples: [3600],
  }),
  breakdown: breakdownField(),
});

export const FunnelResponse = Type.Object(
  {
    steps: Type.Array(FunnelStep, {
      description:
        'The steps in order; with a breakdown, every step of each group, groups in rank order',
    }),
  },
  {
    examples: [
      {
        steps: [
          {
            event_type: 'signup',
            users: 120,
            conversion_from_previous: 1,
            conversion_from_first: 1,
            median_seconds_from_previous: null,
          },
          {
            event_type: 'activate',
            users: 48,
            conversion_from_previous: 0.4,
            conversion_from_first: 0.4,
            median_seconds_from_previous: 3600,
          },
        ],
      },
    ],
  },
);

export const PropertiesQuery = Type.Object({
  ...RangeQuery.properties,
  event_type: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'Only events of this type',
      examples: ['purchase'],
    }),
  ),
});

export const PropertiesResponse = Type.Object(
  {
    keys: Type.Array(
      Type.Object({
        key: Type.String({ examples: ['plan'] }),
        events: Type.Integer({
          description: 'Events of the range that carry the key (null values included)',
          examples: [812],
        }),
        values: Type.Array(
          Type.Object({
            value: Type.String({
              description: 'The text a `where` filter compares',
              examples: ['pro'],
            }),
            events: Type.Integer({ examples: [300] }),
          }),
          {
            description: `The ${PROPERTY_VALUES} most frequent string, number and boolean values, most events first`,
          },
        ),
      }),
      {
        description: `The ${PROPERTY_KEYS} keys carried by most events, most first (ties in byte order)`,
      },
    ),
  },
  {
    examples: [{ keys: [{ key: 'plan', events: 812, values: [{ value: 'pro', events: 300 }] }] }],
  },
);

export const UserIdParams = Type.Object({
  user_id: Type.String({ minLength: 1, maxLength: 256, examples: ['u1'] }),
});

export const UserQuery = Type.Object({ project: ProjectParam });

export const UserProfileResponse = Type.Object(
  {
    user_id: Type.String({ examples: ['u1'] }),
    first_seen_at: Type.String({
      description: 'Earliest occurred_at, ISO 8601 UTC with microseconds',
      examples: ['2025-10-01T12:00:00.000000Z'],
    }),
    last_seen_at: Type.String({ examples: ['2025-10-19T08:30:00.000000Z'] }),
    events: Type.Integer({ description: "The user's stored events", examples: [42] }),
    event_types: Type.Array(Type.Object({ event_type: Type.String(), count: Type.Integer() }), {
      description: 'Most events first, ties in byte order',
    }),
  },
  {
    examples: [
      {
        user_id: 'u1',
        first_seen_at: '2025-10-01T12:00:00.000000Z',
        last_seen_at: '2025-10-19T08:30:00.000000Z',
        events: 42,
        event_types: [{ event_type: 'view', count: 40 }],
      },
    ],
  },
);

export const UserEventsQuery = Type.Object({
  before: Type.Optional(
    Type.String({
      maxLength: 200,
      description: '`next_cursor` of the previous page (omit for the newest events)',
    }),
  ),
  limit: Type.Integer({
    minimum: 1,
    maximum: MAX_USER_EVENTS,
    default: DEFAULT_USER_EVENTS,
    description: 'Events per page',
  }),
  project: ProjectParam,
});

export const UserEventsResponse = Type.Object(
  {
    events: Type.Array(
      Type.Object({
        event_id: Type.String({ format: 'uuid' }),
        occurred_at: Type.String({ examples: ['2025-10-19T08:30:00.000000Z'] }),
        received_at: Type.String({ examples: ['2025-10-19T08:30:01.250000Z'] }),
        user_id: Type.String(),
        event_type: Type.String(),
        properties: Type.Object({}, { additionalProperties: true, description: 'As stored' }),
      }),
      { description: 'Newest first (occurred_at, then source and event_id, descending)' },
    ),
    next_cursor: Type.Union([Type.String(), Type.Null()], {
      description: 'Pass as `before` for the next (older) page; null on the last page',
    }),
  },
  {
    examples: [
      {
        events: [
          {
            event_id: '0b6f3a52-1c1e-4c39-9a53-3c0f6f1a2b7e',
            occurred_at: '2025-10-19T08:30:00.000000Z',
            received_at: '2025-10-19T08:30:01.250000Z',
            user_id: 'u1',
            event_type: 'purchase',
            properties: { plan: 'pro' },
          },
        ],
        next_cursor: null,
      },
    ],
  },
);

export const UserSearchQuery = Type.Object({
  prefix: Type.String({
    default: '',
    maxLength: 256,
    description: 'Start of the user_id, case-sensitive (empty: every user)',
    examples: ['u'],
  }),
  limit: Type.Integer({ minimum: 1, maximum: MAX_USER_SEARCH, default: 20 }),
  project: ProjectParam,
});

export const UserSearchResponse = Type.Object(
  {
    users: Type.Array(
      Type.Object({
        user_id: Type.String({ examples: ['u1'] }),
        last_seen_at: Type.String({ examples: ['2025-10-19T08:30:00.000000Z'] }),
      }),
      { description: 'In byte order of user_id' },
    ),
  },
  { examples: [{ users: [{ user_id: 'u1', last_seen_at: '2025-10-19T08:30:00.000000Z' }] }] },
);
