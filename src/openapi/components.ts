import { KindGuard } from '@sinclair/typebox';
import * as errors from '../schemas/errors.js';
import * as events from '../schemas/events.js';
import * as explore from '../schemas/explore.js';
import * as health from '../schemas/health.js';
import * as projects from '../schemas/projects.js';
import * as sdk from '../schemas/sdk.js';
import * as stats from '../schemas/stats.js';

/** The modules whose exported schemas are the document's named schemas. */
const SCHEMA_MODULES: readonly Record<string, unknown>[] = [
  errors,
  events,
  explore,
  health,
  projects,
  sdk,
  stats,
];

/**
 * Every schema exported from src/schemas, by the name it is exported under, except the
 * querystrings (`...Query`) and path parameters (`...Params`), which the document lists as
 * parameters. Clients generated
 * from the document get one type per name (ErrorResponse, TopEvent, ...) instead of an
 * anonymous type per place a schema is used.
 */
function namedSchemas(): ReadonlyMap<object, string> {
  const named = SCHEMA_MODULES.flatMap((module) =>
    Object.entries(module).filter(
      ([name, value]) =>
        KindGuard.IsSchema(value) && !name.endsWith('Query') && !name.endsWith('Params'),
    ),
  );
  // By name: the document lists them in this order, whatever order a loader gives exports in.
  named.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const names = new Map<object, string>();
  for (const [index, [name, schema]] of named.entries()) {
    if (named[index + 1]?.[0] === name)
      throw new Error(`two schemas in src/schemas are named ${name}`);
    names.set(schema as object, name);
  }
  return names;
}

export const NAMED_SCHEMAS = namedSchemas();

/**
 * A plain copy of a schema (or of a route's schema object) in which each named schema is a
 * reference to it (`{ "$ref": "ErrorResponse#" }`, which @fastify/swagger writes as
 * `#/components/schemas/ErrorResponse`). `self` stays inline: it is the one being named.
 * Named schemas are found by identity, so only the exported objects themselves are
 * referenced, never a look-alike.
 */
export function withRefs(value: unknown, self?: object): unknown {
  if (Array.isArray(value)) return value.map((item) => withRefs(item));
  if (typeof value !== 'object' || value === null) return value;
  const name = NAMED_SCHEMAS.get(value);
  if (name !== undefined && value !== self) return { $ref: `${name}#` };
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withRefs(item)]));
}

/** The named schemas as Fastify shared schemas (`app.addSchema`), with `$id` = the name. */
export function sharedSchemas(): { $id: string }[] {
  return [...NAMED_SCHEMAS].map(([schema, name]) => ({
    $id: name,
    ...(withRefs(schema, schema) as object),
  }));
}
