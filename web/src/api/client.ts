/**
 * The one way the page talks to the service: openapi-fetch over the types generated from the
 * OpenAPI document (./schema.ts, `npm run openapi:generate`), so a path, a parameter or a
 * response field the server does not have is a type error here. Reads carry the read key
 * from session storage; failures become ApiError (status 0: the server cannot be reached).
 */
import createClient from 'openapi-fetch';
import type { components, paths } from './schema.js';

type Schemas = components['schemas'];
export type ActiveUsersDay = Schemas['ActiveUsersDay'];
export type TopEvent = Schemas['TopEvent'];
export type RetentionMatrix = Schemas['RetentionMatrixResponse'];
export type Period = RetentionMatrix['period'];
export type Overview = Schemas['OverviewResponse'];
export type Live = Schemas['LiveResponse'];
export type Project = Schemas['ProjectView'];
export type DauDay = Schemas['DauDay'];
export type FunnelStep = Schemas['FunnelStep'];
export type Property = Schemas['PropertiesResponse']['keys'][number];

const KEY_STORAGE = 'events-analytics.read-key';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function readKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function saveReadKey(key: string): void {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export function forgetReadKey(): void {
  sessionStorage.removeItem(KEY_STORAGE);
}

let project: string | null = null;

/**
 * The project every call but `GET /projects` names (`X-Project`). With AUTH=off it picks the
 * project; with a key the key decides, and naming another project is a 404.
 */
export function useProject(slug: string | null): void {
  project = slug;
}

export const api = createClient<paths>({
  baseUrl: location.origin,
  headers: { accept: 'application/json' },
  cache: 'no-store',
});
api.use({
  onRequest({ request }) {
    const key = readKey();
    if (key) request.headers.set('authorization', `Bearer ${key}`);
    // The list of projects is what the key reaches, whichever project is shown.
    if (project && new URL(request.url).pathname !== '/projects') {
      request.headers.set('x-project', project);
    }
    return request;
  },
});

/** The error shape every endpoint answers with (when the body is one). */
function errorBody(error: unknown): { error?: string; message?: string } {
  return typeof error === 'object' && error !== null ? error : {};
}

/** The data of a successful call; an ApiError for an error status or no answer at all. */
export async function answer<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: Awaited<typeof call>;
  try {
    result = await call;
  } catch {
    throw new ApiError(0, 'network_error', 'the server cannot be reached');
  }
  const { data, error, response } = result;
  if (!response.ok || data === undefined) {
    const body = errorBody(error);
    throw new ApiError(
      response.status,
      body.error ?? 'http_error',
      body.message ?? `HTTP ${response.status}`,
    );
  }
  return data;
}
