import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import type { AuthMode } from './auth/plugin.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  /** Normalised to postgres://; undefined means "start embedded PostgreSQL". */
  databaseUrl: string | undefined;
  port: number;
  host: string;
  logLevel: LogLevel;
  maxBatchEvents: number;
  maxBodyBytes: number;
  /** `required`: ingest needs a write key, /stats a read key. `off`: open (developer default). */
  auth: AuthMode;
  /** Origins allowed to read /stats from a browser (ingest endpoints allow any origin). */
  corsOrigins: string[];
  /** Per-key token bucket, in events; 0 events per second turns it off. */
  rateLimitEventsPerSecond: number;
  rateLimitBurst: number;
  /** Group commit: most events per transaction, longest wait to join one, transactions at once. */
  groupCommitMaxEvents: number;
  groupCommitMaxWaitMs: number;
  groupCommitConcurrency: number;
  dbPoolSize: number;
  /** Where embedded PostgreSQL keeps its data when DATABASE_URL is unset. */
  embeddedPgDir: string;
  /** 0 = pick a free port at each start. */
  embeddedPgPort: number;
  /** Set in the container image: there the database must be external. */
  requireDatabaseUrl: boolean;
  /** IANA zones with summaries besides UTC (REPORT_TIME_ZONES, comma-separated). */
  reportTimeZones: string[];
  /** Days of raw events a new project keeps (RAW_RETENTION_DAYS); undefined: forever. */
  rawRetentionDays: number | undefined;
  /** Seconds between maintenance passes in the service (MAINTENANCE_INTERVAL_S); 0: none. */
  maintenanceIntervalS: number;
  // Hardening limits (issue 9); see docs/operations.md "Limits".
  /** A request (headers and body) must arrive within this long, else 408. */
  requestTimeoutMs: number;
  /** The request headers must arrive within this long, else 408. */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /** A socket with no activity at all is closed after this long. */
  connectionTimeoutMs: number;
  /** Open connections beyond this are closed at once. */
  maxConnections: number;
  /** PostgreSQL cancels a request's statement after this long (503); 0 = no limit. */
  statementTimeoutMs: number;
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  // Hostile load (issue 19); see docs/hardening.md.
  /** Look-ups of unknown API keys one client address may cause per minute. */
  authFailedLookupsPerMinute: number;
  /** Connections for /stats answered from summaries (a pool apart from ingest). */
  statsPoolSize: number;
  /** /stats queries that read raw events (zones without summaries) running at once. */
  rawStatsConcurrency: number;
  /** Such queries that may wait for a turn; beyond them the answer is 503 `busy`. */
  rawStatsQueue: number;
}

/** One message naming the variable; server.ts prints it and exits non-zero. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/**
 * The environment wins over `.env`, as with every dotenv setup; `.env` is read from the
 * working directory and is optional.
 */
export function loadEnv(cwd = process.cwd(), env: Env = process.env): Env {
  const file = path.join(cwd, '.env');
  if (!existsSync(file)) return env;
  return { ...parseDotenv(readFileSync(file)), ...env };
}

/**
 * Accepts postgres://, postgresql:// and the original service's postgresql+asyncpg://
 * (SQLAlchemy driver suffixes are dropped), so an existing .env keeps working.
 */
export function normalizeDatabaseUrl(raw: string): string {
  const match = /^(postgres|postgresql)(\+[a-z0-9]+)?:\/\//i.exec(raw);
  if (!match) {
    throw new ConfigError(
      'DATABASE_URL',
      'must start with postgres://, postgresql:// or postgresql+asyncpg://',
    );
  }
  const normalized = `postgres://${raw.slice(match[0].length)}`;
  try {
    new URL(normalized);
  } catch {
    throw new ConfigError('DATABASE_URL', 'is not a valid URL');
  }
  return normalized;
}

/** The URL with its password masked, for logs. */
export function redactDatabaseUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function flag(env: Env, name: string): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new ConfigError(name, `must be true/false or 1/0, got "${raw}"`);
}

function timeZones(env: Env, name: string): string[] {
  const zones = (env[name] ?? '')
    .split(',')
    .map((z) => z.trim())
    .filter((z) => z !== '');
  for (const zone of zones) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
    } catch {
      throw new ConfigError(name, `must list IANA time zone names, got "${zone}"`);
    }
  }
  return zones;
}

/** Longest raw retention a project may have (the column's CHECK): 100 years. */
export const MAX_RAW_RETENTION_DAYS = 36_500;

/** Days of raw events kept: unset, empty or `none` keeps them forever. */
function retentionDays(env: Env, name: string): number | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '' || raw === 'none') return undefined;
  return integer(env, name, 0, 1, MAX_RAW_RETENTION_DAYS);
}

export function loadConfig(env: Env = loadEnv()): Config {
  const rawUrl = env.DATABASE_URL?.trim();
  const requireDatabaseUrl = flag(env, 'REQUIRE_DATABASE_URL');
  if (!rawUrl && requireDatabaseUrl) {
    throw new ConfigError(
      'DATABASE_URL',
      'is required here (REQUIRE_DATABASE_URL is set, as in the container image); set it to postgresql://user:password@host:5432/db',
    );
  }
  const logLevel = (env.LOG_LEVEL?.trim().toLowerCase() || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(
      'LOG_LEVEL',
      `must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`,
    );
  }
  const host = env.HOST?.trim() || '0.0.0.0';
  const auth = (env.AUTH?.trim().toLowerCase() || 'off') as AuthMode;
  if (auth !== 'required' && auth !== 'off') {
    throw new ConfigError('AUTH', `must be "required" or "off", got "${auth}"`);
  }
  const corsOrigins = (env.CORS_ORIGINS ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of corsOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError(
        'CORS_ORIGINS',
        `must be a comma-separated list of origins such as https://app.example.com, got "${origin}"`,
      );
    }
  }
  const maxBatchEvents = integer(env, 'MAX_BATCH_EVENTS', 5000, 1, 100_000);
  const rateLimitBurst = integer(env, 'RATE_LIMIT_BURST', 100_000, 1, 100_000_000);
  if (rateLimitBurst < maxBatchEvents) {
    throw new ConfigError(
      'RATE_LIMIT_BURST',
      `must be at least MAX_BATCH_EVENTS (${maxBatchEvents}), got ${rateLimitBurst}`,
    );
  }
  return {
    databaseUrl: rawUrl ? normalizeDatabaseUrl(rawUrl) : undefined,
    port: integer(env, 'PORT', 8000, 0, 65535),
    host,
    logLevel,
    maxBatchEvents,
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    auth,
    corsOrigins,
    rateLimitEventsPerSecond: integer(env, 'RATE_LIMIT_EVENTS_PER_SECOND', 50_000, 0, 100_000_000),
    rateLimitBurst,
    groupCommitMaxEvents: integer(env, 'GROUP_COMMIT_MAX_EVENTS', 5000, 1, 100_000),
    groupCommitMaxWaitMs: integer(env, 'GROUP_COMMIT_MAX_WAIT_MS', 1, 0, 1000),
    groupCommitConcurrency: integer(env, 'GROUP_COMMIT_CONCURRENCY', 2, 1, 64),
    dbPoolSize: integer(env, 'DB_POOL_SIZE', 10, 1, 1000),
    embeddedPgDir: path.resolve(env.EMBEDDED_PG_DIR?.trim() || '.data/postgres'),
    embeddedPgPort: integer(env, 'EMBEDDED_PG_PORT', 0, 0, 65535),
    requireDatabaseUrl,
    reportTimeZones: timeZones(env, 'REPORT_TIME_ZONES'),
    rawRetentionDays: retentionDays(env, 'RAW_RETENTION_DAYS'),
    maintenanceIntervalS: integer(env, 'MAINTENANCE_INTERVAL_S', 3600, 0, 7 * 86_400),
    ...hardeningLimits(env),
  };
}

function hardeningLimits(env: Env) {
  const requestTimeoutMs = integer(env, 'REQUEST_TIMEOUT_MS', 30_000, 1000, 3_600_000);
  const headersTimeoutMs = integer(env, 'HEADERS_TIMEOUT_MS', 10_000, 1000, 3_600_000);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError('HEADERS_TIMEOUT_MS', 'must not be more than REQUEST_TIMEOUT_MS');
  }
  const metricsToken = env.METRICS_TOKEN?.trim() || undefined;
  if (metricsToken !== undefined && metricsToken.length < 16) {
    throw new ConfigError('METRICS_TOKEN', 'must be at least 16 characters');
  }
  return {
    requestTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs: integer(env, 'KEEP_ALIVE_TIMEOUT_MS', 72_000, 1000, 3_600_000),
    connectionTimeoutMs: integer(env, 'CONNECTION_TIMEOUT_MS', 120_000, 1000, 3_600_000),
    maxConnections: integer(env, 'MAX_CONNECTIONS', 1024, 1, 1_000_000),
    statementTimeoutMs: integer(env, 'STATEMENT_TIMEOUT_MS', 15_000, 0, 3_600_000),
    metricsToken,
    authFailedLookupsPerMinute: integer(env, 'AUTH_FAILED_LOOKUPS_PER_MINUTE', 60, 1, 1_000_000),
    statsPoolSize: integer(env, 'STATS_POOL_SIZE', 4, 1, 1000),
    rawStatsConcurrency: integer(env, 'RAW_STATS_CONCURRENCY', 1, 1, 1000),
    rawStatsQueue: integer(env, 'RAW_STATS_QUEUE', 64, 0, 100_000),
  };
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i;

/** Said at start when the service is open to the network without keys. */
export function openAccessWarning(config: Pick<Config, 'auth' | 'host'>): string | undefined {
  if (config.auth !== 'off' || LOOPBACK.test(config.host)) return undefined;
  return `AUTH=off and HOST=${config.host}: anyone who reaches this port can write and read events; set AUTH=required and create keys with "npm run keys -- create NAME"`;
}
