import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { type DestinationStream, pino } from 'pino';
import type { Config } from './config.js';
import type { Database } from './db/schema.js';
import accessLog, { requestIdFor } from './plugins/access-log.js';
import dashboard from './plugins/dashboard.js';
import dbPlugin from './plugins/db.js';
import errors from './plugins/errors.js';
import metrics from './plugins/metrics.js';
import swagger from './plugins/swagger.js';
import eventsRoutes from './routes/events.js';
import healthRoutes from './routes/health.js';
import liveRoutes from './routes/live.js';
import statsRoutes from './routes/stats.js';

export interface AppOptions {
  config: Pick<Config, 'logLevel' | 'maxBatchEvents' | 'maxBodyBytes'>;
  db: Kysely<Database>;
  pool: pg.Pool;
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
    bodyLimit: config.maxBodyBytes,
    ajv: { customOptions: { allErrors: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON is the only body this API takes; anything else is a clear 415.
  app.removeContentTypeParser('text/plain');
  await app.register(errors);
  await app.register(accessLog);
  await app.register(dbPlugin, { db: options.db, pool: options.pool });
  await app.register(swagger);
  await app.register(metrics);
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
  await app.register(eventsRoutes, { maxBatchEvents: config.maxBatchEvents });
  await app.register(statsRoutes);
  await app.register(liveRoutes);
  await app.register(dashboard);
  return app;
}
