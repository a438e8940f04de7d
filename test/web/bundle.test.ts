import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildWeb, listFiles, OUT } from '../../web/build.js';

const decompress = (name: string, data: Buffer) =>
  name.endsWith('.br') ? brotliDecompressSync(data) : gunzipSync(data);

describe('web/public (the committed dashboard bundle)', () => {
  it('is what `npm run build:web` makes from web/src', async () => {
    const built = await buildWeb();
    const committed = await listFiles(OUT);
    expect(committed, 'run `npm run build:web` and commit web/public').toEqual(
      [...built.keys()].sort(),
    );
    for (const [name, content] of built) {
      const onDisk = await readFile(path.join(OUT, name));
      const compressed = name.endsWith('.br') || name.endsWith('.gz');
      const [actual, expected] = compressed
        ? [decompress(name, onDisk), built.get(name.slice(0, -3)) ?? new Uint8Array()]
        : [onDisk, content];
      expect(Buffer.compare(actual, Buffer.from(expected)), `${name} is stale`).toBe(0);
    }
  });
});
