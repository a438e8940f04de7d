import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiError } from '../errors.js';
import { ProjectRegistry } from './registry.js';
import { DEFAULT_PROJECT, type Project, projectNotFound } from './repository.js';

declare module 'fastify' {
  interface FastifyInstance {
    projects: {
      registry: ProjectRegistry;
      /**
       * The project a request works on: its key's project (AUTH=required), else the one
       * named by `X-Project` or `?project=`, else `default`. A project the request cannot
       * reach is a 404, whether or not it exists, so slugs do not leak.
       */
      forRequest(request: FastifyRequest): Promise<Project>;
      /**
       * A project named in an admin route's path: 404 unless the key may manage it (an
       * admin key of `default` manages every project; any other key only its own).
       */
      managed(request: FastifyRequest, slug: string): Promise<Project>;
    };
  }
  interface FastifyRequest {
    resolvedProject: Project | undefined;
  }
}

/** The slug a request names, if any: `X-Project` wins over `?project=`. */
export function requestedSlug(request: FastifyRequest): string | undefined {
  const header = request.headers['x-project'];
  const fromHeader = (Array.isArray(header) ? header[0] : header)?.trim();
  if (fromHeader) return fromHeader;
  const query = request.query as Record<string, unknown> | undefined;
  const fromQuery = query?.project;
  return typeof fromQuery === 'string' && fromQuery.trim() !== '' ? fromQuery.trim() : undefined;
}

function keyDenied(slug: string): ApiError {
  // The same answer as for a project that does not exist.
  return projectNotFound(slug);
}

export default fp(
  async (app: FastifyInstance, options: { cacheTtlMs?: number }) => {
    const registry = new ProjectRegistry(app.db, options.cacheTtlMs ?? 2000);
    app.decorateRequest('resolvedProject', undefined);

    async function forRequest(request: FastifyRequest): Promise<Project> {
      if (request.resolvedProject) return request.resolvedProject;
      const named = requestedSlug(request);
      let project: Project | undefined;
      if (request.apiKey) {
        project = await registry.byId(request.apiKey.projectId);
        if (!project || (named !== undefined && named !== project.slug)) {
          throw keyDenied(named ?? String(request.apiKey.projectId));
        }
      } else {
        const slug = named ?? DEFAULT_PROJECT;
        project = await registry.bySlug(slug);
        if (!project) throw projectNotFound(slug);
      }
      request.resolvedProject = project;
      return project;
    }

    async function managed(request: FastifyRequest, slug: string): Promise<Project> {
      const project = await registry.bySlug(slug);
      if (!project) throw projectNotFound(slug);
      const key = request.apiKey;
      if (key && key.projectId !== project.id) {
        const own = await registry.byId(key.projectId);
        if (own?.slug !== DEFAULT_PROJECT) throw keyDenied(slug);
      }
      return project;
    }

    app.decorate('projects', { registry, forRequest, managed });
  },
  { name: 'projects', dependencies: ['db'] },
);
