import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { validationError } from '../errors.js';
import { integerParameters, isDecimalInteger } from '../schemas/query-params.js';

/**
 * Integer query parameters must be plain decimal digits. Checked on the raw strings,
 * before the schema (and Ajv's lenient coercion) sees them, for every route whose
 * querystring schema declares an integer, so routes added later are covered too.
 */
export default fp(
  async (app: FastifyInstance) => {
    app.addHook('preValidation', async (request) => {
      const schema = request.routeOptions.schema;
      // Fastify takes the querystring schema under either name.
      const names = integerParameters(
        schema?.querystring ?? (schema as { query?: unknown })?.query,
      );
      if (names.length === 0) return;
      const query = request.query as Record<string, unknown>;
      const details = names
        .filter((name) => query[name] !== undefined && !isDecimalInteger(query[name]))
        .map((field) => ({
          field,
          message: 'must be an integer in plain decimal digits, such as 10',
        }));
      if (details.length > 0) {
        throw validationError(
          `invalid request: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`,
          details,
        );
      }
    });
  },
  { name: 'query-params' },
);
