import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWeb, listFiles, OUT } from '../../web/build.js';

describe('web/public (the committed dashboard bundle)', () => {
  it('is what `npm run build:web` makes from web/src', async () => {
    const built = await buildWeb();
    const committed = await listFiles(OUT);
    expect(committed, 'run `npm run build:web` and commit web/public').toEqual(
      [...built.keys()].sort(),
    );
    for (const [name, content] of built) {
      const onDisk = await readFile(path.join(OUT, name));
      expect(Buffer.compare(onDisk, Buffer.from(content)), `${name} is stale`).toBe(0);
    }
  });
});
