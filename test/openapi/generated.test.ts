import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_TYPES_FILE,
  clientTypes,
  documentText,
  OPENAPI_FILE,
  openApiDocument,
} from '../../tools/openapi.js';

const REGENERATE = 'out of date: run `npm run openapi:generate` and commit the result';

describe('the committed OpenAPI document and the client generated from it', () => {
  it('openapi.json is the document the code serves at /docs/json', async () => {
    const committed = await readFile(OPENAPI_FILE, 'utf8');
    expect(committed, `openapi.json is ${REGENERATE}`).toBe(documentText(await openApiDocument()));
  });

  it('web/src/api/schema.ts is what openapi-typescript generates from it', async () => {
    const committed = await readFile(CLIENT_TYPES_FILE, 'utf8');
    const document = JSON.parse(await readFile(OPENAPI_FILE, 'utf8'));
    expect(committed, `web/src/api/schema.ts is ${REGENERATE}`).toBe(await clientTypes(document));
  });

  it('does not depend on the configuration (one document for every deployment)', async () => {
    const other = await openApiDocument({
      auth: 'required',
      maxBatchEvents: 7,
      maxBodyBytes: 4096,
      metricsToken: 'secret',
      corsOrigins: ['https://example.org'],
    });
    expect(other).toEqual(await openApiDocument());
  });
});
