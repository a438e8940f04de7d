import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Health } from '../schemas/health.js';

/** Answer within this long even when the database does not answer at all. */
const HEALTH_TIMEOUT_MS = 2000;

async function databaseAnswers(query: () => Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), HEALTH_TIMEOUT_MS);
  });
  try {
    return await Promise.race([query().then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        operationId: 'getHealth',
        summary: 'Health check',
        description:
          'Runs a query on a connection of its own (never behind other queries); 503 when the ' +
          'database does not answer within 2 s.',
        response: { 200: Health, 503: Health },
      },
    },
    async (_request, reply) => {
      if (await databaseAnswers(() => app.healthPool.query('SELECT 1'))) {
        return { status: 'ok' as const, db: 'ok' as const };
      }
      return reply.status(503).send({ status: 'error', db: 'unavailable' });
    },
  );
};

export default healthRoutes;
