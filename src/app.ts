import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { type DestinationStream, pino } from 'pino';
import auth, { statsRoutesNeedReadKey } from './auth/plugin.js';
import type { Config } from './config.js';
import type { Database } from './db/schema.js';
import type { WorkPools } from './db/work-pools.js';
import accessLog, { requestIdFor } from './plugins/access-log.js';
import bodyParser from './plugins/body-parser.js';
import clientErrors, {
  clientErrorHandler,
  type HttpLimits,
  httpServerOptions,
} from './plugins/client-errors.js';
import cors from './plugins/cors.js';
import dashboard from './plugins/dashboard.js';
import dbPlugin from './plugins/db.js';
import errors, { routeMalformedUrls } from './plugins/errors.js';
import ingest from './plugins/ingest.js';
import maintenance from './plugins/maintenance.js';
import metrics from './plugins/metrics.js';
import queryParams from './plugins/query-params.js';
import securityHeaders from './plugins/security-headers.js';
import swagger from './plugins/swagger.js';
import projects from './projects/plugin.js';
import erasureRoutes from './routes/erasure.js';
import eventsRoutes from './routes/events.js';
import exploreRoutes from './routes/explore.js';
import exportRoutes from './routes/export.js';
import healthRoutes from './routes/health.js';
import liveRoutes from './routes/live.js';
import projectRoutes from './routes/projects.js';
import sdkRoutes from './routes/sdk.js';
import statsRoutes from './routes/stats.js';
import { StatsReader } from './routes/stats-reader.js';
import userRoutes from './routes/users.js';

export interface AppOptions {
  config: Pick<
    Config,
    | 'logLevel'
    | 'maxBatchEvents'
    | 'maxBodyBytes'
    | 'auth'
    | 'corsOrigins'
    | 'rateLimitEventsPerSecond'
    | 'rateLimitBurst'
    | 'groupCommitMaxEvents'
    | 'groupCommitMaxWaitMs'
    | 'groupCommitConcurrency'
    | 'reportTimeZones'
  > &
    Partial<
      HttpLimits &
        Pick<
          Config,
          | 'metricsToken'
          | 'authFailedLookupsPerMinute'
          | 'rawStatsConcurrency'
          | 'rawStatsQueue'
          | 'rawRetentionDays'
          | 'maintenanceIntervalS'
        >
    >;
  /** Test hook: the clock maintenance passes are told (default Date.now). */
  maintenanceNow?: () => number;
  /** Test hook: how long a key look-up is trusted (default 5 s). */
  keyCacheTtlMs?: number;
  db: Kysely<Database>;
  pool: pg.Pool;
  /** Pools kept apart from `pool` per class of work (src/db/work-pools.ts); server.ts passes all. */
  work?: Partial<WorkPools>;
  /** Where log lines go (stdout by default); tests pass a stream to read them. */
  logStream?: DestinationStream;
}

/** JSON lines: `level` as a word, ISO `time`, `msg`. */
export function loggerOptions(level: string) {
  return {
    level,
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

/** Builds the app without listening: server.ts listens, tests inject. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const app = Fastify({
    logger: { ...loggerOptions(config.logLevel), stream: options.logStream ?? process.stdout },
    // access-log writes one line per request instead of Fastify's two.
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'request_id',
    }),
    genReqId: requestIdFor,
    rewriteUrl: routeMalformedUrls,
    // A user id is up to 256 characters, URL-encoded in /users/{user_id} up to 12 bytes each
    // (%XX per UTF-8 byte); Fastify's default of 100 would answer a long one 414.
    routerOptions: { maxParamLength: 256 * 12 },
    bodyLimit: config.maxBodyBytes,
    // removeAdditional off: a body with a field its schema does not allow is a 422, never
    // silently trimmed (Fastify's default would drop the field and go on).
    ajv: { customOptions: { allErrors: true, removeAdditional: false } },
    ...httpServerOptions(config),
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(errors);
  await app.register(accessLog);
  await app.register(securityHeaders);
  await app.register(queryParams);
  await app.register(dbPlugin, { db: options.db, pool: options.pool, work: options.work });
  // JSON (UTF-8, optionally gzip/deflate) is the only body this API takes: anything else is a 415.
  await app.register(bodyParser);
  await app.register(swagger);
  await app.register(metrics, { token: config.metricsToken });
  // Order matters: routes are marked before CORS reads the marks, and CORS answers a
  // preflight before the auth hook asks for a key.
  app.addHook('onRoute', statsRoutesNeedReadKey);
  await app.register(cors, { corsOrigins: config.corsOrigins });
  await app.register(auth, {
    mode: config.auth,
    cacheTtlMs: options.keyCacheTtlMs,
    failedLookupsPerMinute: config.authFailedLookupsPerMinute,
    unauthenticatedBytesPerMinute: 2 * config.maxBodyBytes,
  });
  await app.register(projects);
  await app.register(ingest, {
    groupCommit: {
      maxEvents: config.groupCommitMaxEvents,
      maxWaitMs: config.groupCommitMaxWaitMs,
      concurrency: config.groupCommitConcurrency,
    },
    rateLimit: { eventsPerSecond: config.rateLimitEventsPerSecond, burst: config.rateLimitBurst },
    maxBatchEvents: config.maxBatchEvents,
  });
  await app.register(maintenance, {
    intervalS: config.maintenanceIntervalS ?? 0,
    now: options.maintenanceNow,
  });
  await app.register(clientErrors, config);
  // Once shutdown starts, in-flight requests are answered with Connection: close, so a
  // keep-alive client cannot hold the process open after its response.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  await app.register(healthRoutes);
  await app.register(eventsRoutes);
  await app.register(sdkRoutes);
  // One reader (one raw-event gate) for every read route.
  const reader = new StatsReader(app, {
    concurrency: config.rawStatsConcurrency ?? 1,
    queue: config.rawStatsQueue ?? 64,
  });
  await app.register(statsRoutes, { reader });
  await app.register(exploreRoutes, { reader });
  await app.register(userRoutes, { reader });
  await app.register(projectRoutes, {
    defaultZones: config.reportTimeZones,
    defaultRawRetentionDays: config.rawRetentionDays,
  });
  await app.register(erasureRoutes);
  await app.register(exportRoutes);
  await app.register(liveRoutes);
  await app.register(dashboard);
  return app;
}
