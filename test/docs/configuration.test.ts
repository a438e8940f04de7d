import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');

/** Every variable loadConfig reads, recorded from the environment object it is given. */
function variablesRead(): string[] {
  const read = new Set<string>();
  const env = new Proxy<Record<string, string | undefined>>(
    {},
    {
      get(_target, name) {
        if (typeof name === 'string') read.add(name);
        return undefined;
      },
    },
  );
  loadConfig(env);
  return [...read].sort();
}

/** The variable names in the first column of a Markdown table (| `NAME` | ...). */
function tableVariables(file: string): string[] {
  const text = readFileSync(path.join(repoRoot, file), 'utf8');
  return [...text.matchAll(/^\| `([A-Z][A-Z0-9_]*)` +\|/gm)].map((m) => m[1] ?? '').sort();
}

describe('the configuration tables', () => {
  const variables = variablesRead();

  it('reads a plausible set of variables (the recording works)', () => {
    expect(variables).toContain('DATABASE_URL');
    expect(variables).toContain('METRICS_TOKEN');
    expect(variables.length).toBeGreaterThan(20);
  });

  it.each(['README.md', 'docs/operations.md'])('%s lists every variable, once', (file) => {
    expect(tableVariables(file)).toEqual(variables);
  });
});
