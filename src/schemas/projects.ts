import { type Static, Type } from '@sinclair/typebox';

/** Reporting zones a project may have (each one adds work to every write). */
export const MAX_PROJECT_ZONES = 10;

export const Slug = Type.String({
  pattern: '^[a-z0-9-]{1,40}$',
  description: 'Lower-case letters, digits and dashes, 1 to 40 characters; unique',
  examples: ['web'],
});

const TimeZones = Type.Array(
  Type.String({ minLength: 1, maxLength: 64, examples: ['Europe/Kyiv'] }),
  {
    minItems: 1,
    maxItems: MAX_PROJECT_ZONES,
    description:
      'IANA zones with summaries, the main zone first (the zone of /stats without `tz`); UTC is added last when not listed',
    examples: [['Europe/Kyiv', 'UTC']],
  },
);

// One schema with two types, not anyOf [integer, null]: Fastify's Ajv coerces types, and
// with anyOf the null branch would take 0 (or false) for null, "forever".
const RawRetentionDays = Type.Unsafe<number | null>({
  type: ['integer', 'null'],
  minimum: 1,
  maximum: 36_500,
  description:
    'Days raw events are kept (null: forever). Older weeks are dropped by maintenance while every summary stays exact; events older than this are refused (`outside_retention`). See docs/lifecycle.md',
  examples: [395],
});

export const ProjectView = Type.Object(
  {
    slug: Slug,
    name: Type.String({ examples: ['Web app'] }),
    time_zones: Type.Array(Type.String(), {
      description: 'Reporting zones, main zone first; UTC is always one of them',
      examples: [['Europe/Kyiv', 'UTC']],
    }),
    created_at: Type.String({ format: 'date-time' }),
    raw_retention_days: RawRetentionDays,
    raw_events_from: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description:
        'Every raw event at or after this instant is stored; older ones expired (null: none did)',
    }),
  },
  { description: 'A project' },
);
export type ProjectView = Static<typeof ProjectView>;

export const ProjectList = Type.Array(ProjectView);

export const ProjectCreate = Type.Object(
  {
    slug: Slug,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, examples: ['Web app'] })),
    time_zones: Type.Optional(TimeZones),
    raw_retention_days: Type.Optional(RawRetentionDays),
  },
  { additionalProperties: false },
);

export const ProjectChange = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    time_zones: Type.Optional(TimeZones),
    raw_retention_days: Type.Optional(RawRetentionDays),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const ProjectChanged = Type.Object({
  project: ProjectView,
  built_time_zones: Type.Array(Type.String(), {
    description: 'Zones added now, whose summaries were built from the stored events',
  }),
});

export const SlugParams = Type.Object({ slug: Slug });

export const ProjectDeleted = Type.Object({
  slug: Slug,
  events: Type.Integer({ description: 'Events deleted' }),
  users: Type.Integer(),
  event_types: Type.Integer(),
  summary_rows: Type.Integer({ description: 'Rows of every summary table deleted' }),
  keys: Type.Integer({ description: 'API keys deleted' }),
});

export const KeyScope = Type.Union(
  [Type.Literal('write'), Type.Literal('read'), Type.Literal('all'), Type.Literal('admin')],
  {
    description:
      '`write` ingests, `read` reads /stats and users, `all` both (and erases users), `admin` manages the project, its keys and its users',
  },
);

export const KeyCreate = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,64}$', examples: ['ios-app'] }),
    scope: KeyScope,
  },
  { additionalProperties: false },
);

export const KeyView = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    scope: KeyScope,
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    revoked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { description: 'An API key (never the key itself)' },
);

export const KeyList = Type.Array(KeyView);

export const KeyRevoked = Type.Null({ description: 'Revoked: no body' });

export const KeyCreated = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  scope: KeyScope,
  key: Type.String({ description: 'The key itself: shown once, store it now' }),
});

export const KeyParams = Type.Object({ slug: Slug, id: Type.Integer({ minimum: 1 }) });

export const ProjectUsage = Type.Object(
  {
    slug: Slug,
    raw_retention_days: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Days raw events are kept (null: forever)',
    }),
    events: Type.Integer({ description: 'Raw events stored now' }),
    raw_bytes: Type.Integer({
      description:
        'Bytes of the raw events with their indexes: the project’s share of the partitions, by rows (row totals are PostgreSQL’s estimates)',
    }),
    summary_bytes: Type.Integer({
      description: 'Bytes of the summaries and the users and event-type dictionaries (same share)',
    }),
    dedup_bytes: Type.Integer({ description: 'Bytes of the dedup table (event_ids), same share' }),
    oldest_raw_day: Type.Union([Type.String({ format: 'date' }), Type.Null()], {
      description: 'UTC day of the oldest raw event stored (null: none)',
    }),
    raw_events_from: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'Every raw event at or after this instant is stored (null: none expired)',
    }),
    partitions: Type.Array(Type.String(), {
      description: 'Weekly partitions holding the project’s raw events, oldest first',
      examples: [['events_w20251013', 'events_w20251020']],
    }),
    partitions_total: Type.Integer({ description: 'Partitions of raw events of every project' }),
  },
  { description: 'What a project’s data takes' },
);
