import { writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from 'openapi-typescript';
import { type AppOptions, buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createKysely, createPool } from '../src/db/pool.js';

/**
 * `npm run openapi:generate`: writes the committed copy of the OpenAPI document the server
 * serves at /docs/json, and the dashboard's types generated from it (openapi-typescript;
 * web/src/api/client.ts calls the API through them with openapi-fetch).
 * test/openapi/generated.test.ts fails when either differs from what the code produces.
 */
export const OPENAPI_FILE = fileURLToPath(new URL('../openapi.json', import.meta.url));
export const CLIENT_TYPES_FILE = fileURLToPath(
  new URL('../web/src/api/schema.ts', import.meta.url),
);

/**
 * The document exactly as the server serves it, built without a database: the app is
 * built from the documented defaults (an empty environment) on a pool that is never
 * connected (pg.Pool and Kysely connect on the first query; building the app and its
 * document runs none). `config` overrides single settings (the document does not depend on
 * them; a test checks that).
 */
export async function openApiDocument(
  config: Partial<AppOptions['config']> = {},
): Promise<OpenAPI3> {
  const pool = createPool('postgres://openapi@127.0.0.1:1/never-connected');
  const app = await buildApp({
    config: { ...loadConfig({}), logLevel: 'silent', ...config },
    db: createKysely(pool),
    pool,
  });
  try {
    await app.ready();
    const response = await app.inject({ method: 'GET', url: '/docs/json' });
    if (response.statusCode !== 200) {
      throw new Error(`GET /docs/json answered ${response.statusCode}: ${response.body}`);
    }
    return response.json();
  } finally {
    await app.close();
    await pool.end();
  }
}

/** The committed file's text: 2-space JSON with a final newline. */
export function documentText(document: OpenAPI3): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** The TypeScript types of the document (`paths`, `components`, `operations`). */
export async function clientTypes(document: OpenAPI3): Promise<string> {
  return COMMENT_HEADER + astToString(await openapiTS(document));
}

async function main() {
  const document = await openApiDocument();
  await writeFile(OPENAPI_FILE, documentText(document));
  await writeFile(CLIENT_TYPES_FILE, await clientTypes(document));
  process.stdout.write(`wrote ${OPENAPI_FILE}\nwrote ${CLIENT_TYPES_FILE}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
