/** The one way the page talks to the service: JSON GETs with the read key, typed errors. */

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

export type Params = Record<string, string | number | undefined>;

export function apiUrl(path: string, params: Params = {}): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) search.set(name, String(value));
  }
  const query = search.toString();
  return query ? `${path}?${query}` : path;
}

export async function getJson<T>(path: string, params: Params = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const key = readKey();
  if (key) headers.authorization = `Bearer ${key}`;
  let response: Response;
  try {
    response = await fetch(apiUrl(path, params), { headers, cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network_error', 'the server cannot be reached');
  }
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
    throw new ApiError(
      response.status,
      body.error ?? 'http_error',
      body.message ?? `HTTP ${response.status}`,
    );
  }
  return (await response.json()) as T;
}
