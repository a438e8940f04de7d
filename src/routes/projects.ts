import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { createKey, listKeys, revokeKey } from '../auth/keys.js';
import { ApiError } from '../errors.js';
import { projectUsage } from '../lifecycle/usage.js';
import {
  createProject,
  DEFAULT_PROJECT,
  deleteProject,
  findProject,
  listProjects,
  type Project,
  updateProject,
} from '../projects/repository.js';
import { checkZoneList } from '../projects/zones.js';
import { ErrorResponse } from '../schemas/errors.js';
import {
  KeyCreate,
  KeyCreated,
  KeyList,
  KeyParams,
  KeyRevoked,
  ProjectChange,
  ProjectChanged,
  ProjectCreate,
  ProjectDeleted,
  ProjectList,
  ProjectUsage,
  ProjectView,
  SlugParams,
} from '../schemas/projects.js';

const errors = {
  400: ErrorResponse,
  401: ErrorResponse,
  403: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
  422: ErrorResponse,
  503: ErrorResponse,
};

export function projectView(project: Project): ProjectView {
  return {
    slug: project.slug,
    name: project.name,
    time_zones: project.zones.map((z) => z.name),
    created_at: project.createdAt,
    raw_retention_days: project.rawRetentionDays ?? null,
    raw_events_from: project.rawFloor ?? null,
  };
}

/**
 * The admin API: projects and their keys. With AUTH=required these need an `admin` key:
 * an admin key of the `default` project manages every project (and alone may create
 * projects); any other admin key manages its own project only, and every other project is
 * a 404 to it. GET /projects takes a key of any scope and lists what the key can reach.
 */
export interface ProjectRoutesOptions {
  /** REPORT_TIME_ZONES: the zones of a project created without any. */
  defaultZones: string[];
  /** RAW_RETENTION_DAYS: the raw retention of a project created without one. */
  defaultRawRetentionDays?: number | undefined;
}

const projectRoutes: FastifyPluginAsyncTypebox<ProjectRoutesOptions> = async (app, opts) => {
  const { registry } = app.projects;

  /** True when the request may manage every project (AUTH=off, or an admin key of default). */
  const instanceAdmin = async (request: FastifyRequest) => {
    const key = request.apiKey;
    if (!key) return true;
    return key.scope === 'admin' && (await registry.byId(key.projectId))?.slug === DEFAULT_PROJECT;
  };

  app.get(
    '/projects',
    {
      config: { access: 'any' },
      schema: {
        tags: ['projects'],
        operationId: 'listProjects',
        summary: 'List projects',
        description:
          'The projects the key can reach: every project for an admin key of `default` (and with AUTH=off), else the key’s own.',
        querystring: {},
        response: { 200: ProjectList, ...errors },
      },
    },
    async (request) => {
      if (await instanceAdmin(request)) return (await listProjects(app.db)).map(projectView);
      const own = await app.projects.forRequest(request);
      return [projectView(own)];
    },
  );

  app.post(
    '/projects',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['projects'],
        operationId: 'createProject',
        summary: 'Create a project',
        description:
          'Needs an admin key of the `default` project. `time_zones` defaults to REPORT_TIME_ZONES (UTC when unset), `raw_retention_days` to RAW_RETENTION_DAYS (forever when unset).',
        body: ProjectCreate,
        response: { 201: ProjectView, ...errors },
      },
    },
    async (request, reply) => {
      if (!(await instanceAdmin(request))) {
        throw new ApiError(
          403,
          'forbidden',
          `only an admin key of the "${DEFAULT_PROJECT}" project can create projects`,
        );
      }
      const { slug, name, time_zones, raw_retention_days } = request.body;
      const zones = checkZoneList(time_zones ?? opts.defaultZones);
      const project = await createProject(app.db, {
        slug,
        name: name ?? slug,
        zones,
        rawRetentionDays:
          raw_retention_days === undefined
            ? opts.defaultRawRetentionDays
            : (raw_retention_days ?? undefined),
      });
      registry.invalidate();
      return reply.status(201).send(projectView(project));
    },
  );

  app.patch(
    '/projects/:slug',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['projects'],
        operationId: 'updateProject',
        summary: 'Rename a project, change its reporting zones or its raw retention',
        description:
          'A zone added is built from the project’s stored events before the answer (its writes wait meanwhile, other projects’ do not); a zone removed loses its summaries (questions in it are then answered from raw events). A shorter `raw_retention_days` refuses older events at once and expires stored weeks at the next maintenance pass; `null` keeps raw events forever from now on (weeks expired already do not come back).',
        params: SlugParams,
        body: ProjectChange,
        response: { 200: ProjectChanged, ...errors },
      },
    },
    async (request) => {
      const { slug } = request.params;
      await app.projects.managed(request, slug);
      const { name, time_zones, raw_retention_days } = request.body;
      const zones = time_zones === undefined ? undefined : checkZoneList(time_zones);
      const { project, built } = await updateProject(app.db, slug, {
        name,
        zones,
        rawRetentionDays: raw_retention_days,
      });
      registry.invalidate();
      return { project: projectView(project), built_time_zones: built };
    },
  );

  app.delete(
    '/projects/:slug',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['projects'],
        operationId: 'deleteProject',
        summary: 'Delete a project',
        description:
          'Deletes the project with its events, users, summaries and keys in one transaction, and answers what was deleted. `default` cannot be deleted (409).',
        params: SlugParams,
        response: { 200: ProjectDeleted, ...errors },
      },
    },
    async (request) => {
      const { slug } = request.params;
      await app.projects.managed(request, slug);
      const deleted = await deleteProject(app.db, slug);
      registry.invalidate();
      return deleted;
    },
  );

  app.get(
    '/projects/:slug/usage',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['projects'],
        operationId: 'getProjectUsage',
        summary: 'What a project’s data takes',
        description:
          'Raw events stored, bytes of raw events, summaries and the dedup table (the project’s share of each table, by rows), the oldest raw day and the partitions holding its events: what retention buys (docs/lifecycle.md).',
        params: SlugParams,
        response: { 200: ProjectUsage, ...errors },
      },
    },
    async (request) => {
      const project = await app.projects.managed(request, request.params.slug);
      // Its settings as stored now, not as cached (a maintenance pass may just have run).
      return projectUsage(app.db, (await findProject(app.db, { id: project.id })) ?? project);
    },
  );

  app.get(
    '/projects/:slug/keys',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['projects'],
        operationId: 'listProjectKeys',
        summary: 'List a project’s API keys',
        description: 'Names, scopes and dates; never the keys themselves.',
        params: SlugParams,
        response: { 200: KeyList, ...errors },
      },
    },
    async (request) => {
      const project = await app.projects.managed(request, request.params.slug);
      return listKeys(app.db, project.id);
    },
  );

  app.post(
    '/projects/:slug/keys',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['projects'],
        operationId: 'createProjectKey',
        summary: 'Create an API key for a project',
        description: 'The key is in the answer, once; only its hash is stored.',
        params: SlugParams,
        body: KeyCreate,
        response: { 201: KeyCreated, ...errors },
      },
    },
    async (request, reply) => {
      const project = await app.projects.managed(request, request.params.slug);
      const { name, scope } = request.body;
      const created = await createKey(app.db, project.id, name, scope);
      if (!created) {
        throw new ApiError(409, 'conflict', `the project has a key named "${name}" already`);
      }
      return reply.status(201).send({ id: created.id, name, scope, key: created.key });
    },
  );

  app.delete(
    '/projects/:slug/keys/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['projects'],
        operationId: 'revokeProjectKey',
        summary: 'Revoke an API key',
        description: 'The key stops working within 5 s (the key cache).',
        params: KeyParams,
        response: { 204: KeyRevoked, ...errors },
      },
    },
    async (request, reply) => {
      const project = await app.projects.managed(request, request.params.slug);
      if (!(await revokeKey(app.db, project.id, { id: request.params.id }))) {
        throw new ApiError(404, 'not_found', `no live key ${request.params.id} in this project`);
      }
      return reply.status(204).send(null);
    },
  );
};

export default projectRoutes;
