import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, echoed } from '../errors.js';
import { eraseUsers } from '../lifecycle/erasure.js';
import { UserErased, UserIdParams } from '../schemas/erasure.js';
import { ErrorResponse } from '../schemas/errors.js';

/**
 * The right to erasure (docs/lifecycle.md): DELETE /users/{user_id} removes every raw
 * event of the user in the request's project (from its key) and corrects every summary
 * exactly, as if the user had never sent anything. Needs an `admin` or `all` key.
 */
const erasureRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.delete(
    '/users/:user_id',
    {
      config: { access: 'erase' },
      schema: {
        tags: ['users'],
        operationId: 'eraseUser',
        summary: 'Erase a user (right to erasure)',
        description:
          'Deletes every raw event of the user in the key’s project and corrects every summary (DAU/WAU/MAU, top events, retention, in every reporting zone, days whose raw events already expired included) in one transaction, as if the user had never sent anything. An event of the user sent afterwards makes a new user. Needs an `admin` or `all` key when AUTH=required. A user the project does not have is a 404.',
        params: UserIdParams,
        response: {
          200: UserErased,
          401: ErrorResponse,
          403: ErrorResponse,
          404: ErrorResponse,
          422: ErrorResponse,
          503: ErrorResponse,
        },
      },
    },
    async (request) => {
      const project = await app.projects.forRequest(request);
      const { user_id } = request.params;
      const [erased] = await eraseUsers(app.db, project.id, [user_id]);
      if (!erased) {
        throw new ApiError(404, 'not_found', `no user "${echoed(user_id)}" in this project`);
      }
      return erased;
    },
  );
};

export default erasureRoutes;
