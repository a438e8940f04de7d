/**
 * Test-data generator: realistic, deterministic CSV of events for the importer and the
 * benchmarks.
 *
 *   npm run gen:csv -- data/events.csv --rows 50000 [--seed 42] [--users U]
 *                      [--start 2025-10-01] [--days 30] [--dup-rate 0.01] [--funnels]
 *
 * The model: users arrive over the date range; each has a heavy-tailed activity weight
 * (a few heavy users, many light ones) that decays after arrival towards a floor, so users
 * return with decaying probability and retention curves are meaningful. Event types have
 * different frequencies and type-specific properties; times follow a daily cycle. Rows
 * are streamed, so memory stays flat whatever --rows is.
 *
 * --funnels (off by default; without it the output is byte for byte what it always was)
 * adds what exploration queries need: each user has a platform, a country and a plan,
 * carried in the properties of every event they send, and goes signup -> activate ->
 * purchase with drop-off: a user's first event is a `signup`, a signed-up user's later
 * event becomes `activate` with a chance that depends on their platform (so a breakdown
 * shows different conversion), and only activated users purchase (a purchase drawn for
 * anyone else is a `view`).
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { csvField } from '../src/import/csv-field.js';

export interface GenOptions {
  path: string;
  rows: number;
  seed: number;
  users: number;
  start: string;
  days: number;
  dupRate: number;
  /** Per-user properties and signup -> activate -> purchase journeys (see above). */
  funnels?: boolean;
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A version-4 UUID from the generator's random stream (deterministic, unlike randomUUID). */
function uuid(random: () => number): string {
  const b = Array.from({ length: 16 }, () => Math.floor(random() * 256));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.map((x) => HEX[x]);
  return `${h.slice(0, 4).join('')}-${h.slice(4, 6).join('')}-${h.slice(6, 8).join('')}-${h.slice(8, 10).join('')}-${h.slice(10).join('')}`;
}

type PropsFn = (random: () => number) => Record<string, unknown>;
const pick = <T>(random: () => number, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T;
const DEVICES = ['mobile', 'desktop', 'tablet'] as const;
const PAGES = ['home', 'search', 'product', 'cart', 'checkout', 'profile', 'help'] as const;

/** Event types with their relative frequencies and the properties each carries. */
export const EVENT_TYPES: ReadonlyArray<{ type: string; weight: number; props: PropsFn }> = [
  { type: 'view', weight: 40, props: (r) => ({ page: pick(r, PAGES), device: pick(r, DEVICES) }) },
  {
    type: 'click',
    weight: 20,
    props: (r) => ({
      element: pick(r, ['button', 'link', 'banner', 'card']),
      page: pick(r, PAGES),
    }),
  },
  {
    type: 'login',
    weight: 10,
    props: (r) => ({ device: pick(r, DEVICES), method: pick(r, ['password', 'google', 'apple']) }),
  },
  {
    type: 'search',
    weight: 9,
    props: (r) => ({
      query: pick(r, ['shoes', 'red dress', 'phone, case', 'book "dune"']),
      results: Math.floor(r() * 200),
    }),
  },
  {
    type: 'add_to_cart',
    weight: 7,
    props: (r) => ({ sku: `SKU-${Math.floor(r() * 5000)}`, price: Math.round(r() * 20000) / 100 }),
  },
  {
    type: 'purchase',
    weight: 4,
    props: (r) => ({
      amount: Math.round(r() * 50000) / 100,
      currency: pick(r, ['USD', 'EUR', 'UAH']),
      items: 1 + Math.floor(r() * 5),
    }),
  },
  { type: 'share', weight: 3, props: (r) => ({ channel: pick(r, ['email', 'telegram', 'x']) }) },
  { type: 'logout', weight: 2, props: () => ({}) },
];
const TYPE_CUMULATIVE = (() => {
  const total = EVENT_TYPES.reduce((s, t) => s + t.weight, 0);
  let acc = 0;
  return EVENT_TYPES.map((t) => (acc += t.weight / total));
})();

// Share of events per UTC hour: quiet at night, busy in the afternoon and evening.
const HOUR_WEIGHTS = [
  1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 4, 4.5, 5, 5.5, 5.5, 5, 5, 5.5, 6, 6.5, 6.5, 6, 5, 3.5, 2,
];
const HOUR_CUMULATIVE = (() => {
  const total = HOUR_WEIGHTS.reduce((s, w) => s + w, 0);
  let acc = 0;
  return HOUR_WEIGHTS.map((w) => (acc += w / total));
})();

/** Index of the first cumulative weight above u. */
function searchCumulative(cumulative: ArrayLike<number>, u: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cumulative[mid] ?? 1) > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const PLATFORMS = ['ios', 'android', 'web'] as const;
/** Chance that a signed-up user's next event is their activation, by platform. */
const ACTIVATION_CHANCE = [0.3, 0.2, 0.12] as const;
const COUNTRIES = ['US', 'DE', 'UA', 'IN', 'BR', 'GB', 'FR', 'JP', 'NP', 'CL', 'NZ', 'PL'] as const;
const PLANS = ['free', 'free', 'free', 'pro', 'team'] as const;

/** --funnels: each user's fixed properties and where they are in signup -> activate. */
class Journeys {
  private readonly stage: Uint8Array; // 0 new, 1 signed up, 2 activated
  private readonly platform: Uint8Array;
  private readonly userProps: string[];
  constructor(users: number, random: () => number) {
    this.stage = new Uint8Array(users);
    this.platform = new Uint8Array(users);
    this.userProps = Array.from({ length: users }, (_, u) => {
      const p = Math.floor(random() * PLATFORMS.length);
      this.platform[u] = p;
      return JSON.stringify({
        platform: PLATFORMS[p],
        country: pick(random, COUNTRIES),
        plan: pick(random, PLANS),
      }).slice(1, -1);
    });
  }

  /** The event a user sends instead of `type`, with its properties' JSON. */
  next(user: number, type: string, props: Record<string, unknown>, random: () => number) {
    const stage = this.stage[user] ?? 0;
    let event = type;
    let own = props;
    if (stage === 0) {
      event = 'signup';
      own = { source: pick(random, ['ads', 'organic', 'referral']) };
      this.stage[user] = 1;
    } else if (stage === 1 && random() < (ACTIVATION_CHANCE[this.platform[user] ?? 0] ?? 0)) {
      event = 'activate';
      own = {};
      this.stage[user] = 2;
    } else if (stage === 1 && type === 'purchase') {
      event = 'view';
      own = { page: pick(random, PAGES), device: pick(random, DEVICES) };
    }
    const rest = JSON.stringify(own).slice(1, -1);
    return { event, json: `{${this.userProps[user]}${rest ? `,${rest}` : ''}}` };
  }
}

const RETENTION_FLOOR = 0.08; // long-run share of a user's initial activity
const RETENTION_DAYS = 4; // time constant of the decay towards that floor
const DUP_MEMORY = 1000;

export async function generate(options: GenOptions): Promise<number> {
  const random = prng(options.seed);
  const { users, days, rows } = options;
  const startMs = Date.parse(`${options.start}T00:00:00Z`);

  // Each user: arrival day (a third are there from the start, the rest arrive over the
  // range) and a Pareto-distributed activity weight (alpha 1.3: heavy tail).
  const arrival = new Int32Array(users);
  const weight = new Float64Array(users);
  for (let u = 0; u < users; u++) {
    arrival[u] = random() < 0.33 ? 0 : Math.floor(random() * days);
    weight[u] = Math.min(200, (1 - random()) ** (-1 / 1.3));
  }
  // Rows per day: even, with a weekly rhythm (weekends ~20% quieter).
  const dayShare = Array.from({ length: days }, (_, d) => {
    const dow = new Date(startMs + d * 86_400_000).getUTCDay();
    return dow === 0 || dow === 6 ? 0.8 : 1;
  });
  const shareTotal = dayShare.reduce((s, x) => s + x, 0);
  // Its own stream, so the default output does not depend on whether --funnels exists.
  const journeyRandom = prng(options.seed ^ 0x5eed);
  const journeys = options.funnels ? new Journeys(users, journeyRandom) : undefined;

  await mkdir(path.dirname(path.resolve(options.path)), { recursive: true });
  const out = createWriteStream(options.path);
  const write = async (chunk: string) => {
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  await write('event_id,occurred_at,user_id,event_type,properties_json\n');

  const recent: string[] = [];
  const cumulative = new Float64Array(users);
  let written = 0;
  let buffer = '';
  for (let d = 0; d < days && written < rows; d++) {
    // Today's weight of every user who has arrived: activity x decay since arrival.
    let acc = 0;
    for (let u = 0; u < users; u++) {
      const age = d - (arrival[u] ?? 0);
      if (age >= 0)
        acc +=
          (weight[u] ?? 0) *
          (RETENTION_FLOOR + (1 - RETENTION_FLOOR) * Math.exp(-age / RETENTION_DAYS));
      cumulative[u] = acc;
    }
    const target =
      d === days - 1
        ? rows
        : Math.min(
            rows,
            Math.round((rows * dayShare.slice(0, d + 1).reduce((s, x) => s + x, 0)) / shareTotal),
          );
    for (; written < target; written++) {
      let line: string;
      if (recent.length > 0 && random() < options.dupRate) {
        line = pick(random, recent); // a client retry: the very same event again
      } else {
        const user = searchCumulative(cumulative, random() * acc);
        const kind = EVENT_TYPES[searchCumulative(TYPE_CUMULATIVE, random())] ?? EVENT_TYPES[0];
        const hour = searchCumulative(HOUR_CUMULATIVE, random());
        const at = new Date(
          startMs + d * 86_400_000 + hour * 3_600_000 + Math.floor(random() * 3_600_000),
        );
        const iso = `${at.toISOString().slice(0, 19)}Z`;
        const id = uuid(random);
        let type = kind?.type;
        let json = JSON.stringify(kind?.props(random));
        if (journeys && kind) {
          ({ event: type, json } = journeys.next(user, kind.type, JSON.parse(json), journeyRandom));
        }
        line = `${id},${iso},user_${user},${type},${csvField(json)}\n`;
        if (recent.length < DUP_MEMORY) recent.push(line);
        else recent[Math.floor(random() * DUP_MEMORY)] = line;
      }
      buffer += line;
      if (buffer.length > 1 << 16) {
        await write(buffer);
        buffer = '';
      }
    }
  }
  await write(buffer);
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  return written;
}

function fail(message: string): never {
  process.stderr.write(`gen-csv: ${message}\n`);
  process.exit(2);
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    fail(`--${name} must be a positive integer, got "${value}"`);
  return Number(value);
}

export function parseGenArgs(argv: string[]): GenOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      rows: { type: 'string' },
      seed: { type: 'string' },
      users: { type: 'string' },
      start: { type: 'string' },
      days: { type: 'string' },
      'dup-rate': { type: 'string' },
      funnels: { type: 'boolean' },
    },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1)
    fail(
      'usage: gen-csv PATH --rows N [--seed S] [--users U] [--start YYYY-MM-DD] [--days D] [--dup-rate R] [--funnels]',
    );
  const rows = positiveInt('rows', values.rows, 1000);
  const start = values.start ?? '2025-10-01';
  if (!/^\d{4}-\d{2}-\d{2}$/.test(start) || Number.isNaN(Date.parse(`${start}T00:00:00Z`)))
    fail(`--start must be YYYY-MM-DD, got "${start}"`);
  const dupRate = values['dup-rate'] === undefined ? 0 : Number(values['dup-rate']);
  if (!(dupRate >= 0 && dupRate < 1))
    fail(`--dup-rate must be a number in [0, 1), got "${values['dup-rate']}"`);
  return {
    path: file,
    rows,
    seed: values.seed === undefined ? 42 : positiveInt('seed', values.seed, 42),
    users: positiveInt('users', values.users, Math.max(10, Math.round(rows / 25))),
    start,
    days: positiveInt('days', values.days, 30),
    dupRate,
    funnels: values.funnels === true,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const options = parseGenArgs(process.argv.slice(2));
  generate(options)
    .then((n) => process.stdout.write(`Wrote ${n} rows to ${options.path}\n`))
    .catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
}
