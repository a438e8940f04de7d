import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, normalizeDatabaseUrl, redactDatabaseUrl } from '../src/config.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: undefined,
      port: 8000,
      host: '0.0.0.0',
      logLevel: 'info',
      maxBatchEvents: 5000,
      maxBodyBytes: 10 * 1024 * 1024,
      dbPoolSize: 10,
      requireDatabaseUrl: false,
    });
    expect(config.embeddedPgDir).toMatch(/\.data\/postgres$/);
  });

  it('accepts postgres://, postgresql:// and the original postgresql+asyncpg://', () => {
    expect(normalizeDatabaseUrl('postgresql+asyncpg://events:pw@postgres:5432/events')).toBe(
      'postgres://events:pw@postgres:5432/events',
    );
    expect(normalizeDatabaseUrl('postgresql://a@h/db')).toBe('postgres://a@h/db');
    expect(loadConfig({ DATABASE_URL: 'postgres://a@h:5/db' }).databaseUrl).toBe(
      'postgres://a@h:5/db',
    );
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ MAX_BATCH_EVENTS: '0' }, 'MAX_BATCH_EVENTS'],
    [{ MAX_BODY_BYTES: '1.5' }, 'MAX_BODY_BYTES'],
    [{ DB_POOL_SIZE: '-1' }, 'DB_POOL_SIZE'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ DATABASE_URL: 'mysql://x@y/z' }, 'DATABASE_URL'],
    [{ REQUIRE_DATABASE_URL: 'true' }, 'DATABASE_URL'],
    [{ REQUIRE_DATABASE_URL: 'maybe' }, 'REQUIRE_DATABASE_URL'],
  ])('refuses %o with one message naming %s', (env, variable) => {
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(variable);
    expect((caught as ConfigError).message).toMatch(
      new RegExp(`^Invalid configuration: ${variable} `),
    );
  });

  it('never shows the password in logs', () => {
    expect(redactDatabaseUrl('postgres://events:change_me@db:5432/events')).toBe(
      'postgres://events:***@db:5432/events',
    );
  });
});
