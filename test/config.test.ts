import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  loadConfig,
  normalizeDatabaseUrl,
  openAccessWarning,
  redactDatabaseUrl,
} from '../src/config.js';

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
    [{ AUTH: 'maybe' }, 'AUTH'],
    [{ AUTH: 'on' }, 'AUTH'],
    [{ CORS_ORIGINS: '*' }, 'CORS_ORIGINS'],
    [{ CORS_ORIGINS: 'https://a.example.com,app.example.com' }, 'CORS_ORIGINS'],
    [{ CORS_ORIGINS: 'https://a.example.com/' }, 'CORS_ORIGINS'],
    [{ RATE_LIMIT_EVENTS_PER_SECOND: '1.5' }, 'RATE_LIMIT_EVENTS_PER_SECOND'],
    [{ RATE_LIMIT_BURST: '0' }, 'RATE_LIMIT_BURST'],
    [{ RATE_LIMIT_BURST: '4999' }, 'RATE_LIMIT_BURST'],
    [{ MAX_BATCH_EVENTS: '200', RATE_LIMIT_BURST: '100' }, 'RATE_LIMIT_BURST'],
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

  it('has the documented defaults for keys, CORS and rate limits', () => {
    expect(loadConfig({})).toMatchObject({
      auth: 'off',
      corsOrigins: [],
      rateLimitEventsPerSecond: 50_000,
      rateLimitBurst: 100_000,
    });
  });

  it('reads AUTH, CORS_ORIGINS and the rate limit', () => {
    expect(
      loadConfig({
        AUTH: ' Required ',
        CORS_ORIGINS: ' https://app.example.com , http://localhost:3000,,',
        RATE_LIMIT_EVENTS_PER_SECOND: '0',
        MAX_BATCH_EVENTS: '10',
        RATE_LIMIT_BURST: '10',
      }),
    ).toMatchObject({
      auth: 'required',
      corsOrigins: ['https://app.example.com', 'http://localhost:3000'],
      rateLimitEventsPerSecond: 0,
      rateLimitBurst: 10,
    });
  });

  it('warns about open access only for AUTH=off on a non-loopback HOST', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.5', 'example.com']) {
      const warning = openAccessWarning({ auth: 'off', host });
      expect(warning, host).toContain(`AUTH=off and HOST=${host}: anyone who reaches this port`);
      expect(warning).toContain('npm run keys -- create NAME');
    }
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', 'LOCALHOST']) {
      expect(openAccessWarning({ auth: 'off', host }), host).toBeUndefined();
    }
    expect(openAccessWarning({ auth: 'required', host: '0.0.0.0' })).toBeUndefined();
    // The default configuration (HOST=0.0.0.0, AUTH=off) is the case the warning exists for.
    expect(openAccessWarning(loadConfig({}))).toBeDefined();
  });
});

describe('data lifecycle settings', () => {
  it('RAW_RETENTION_DAYS: unset, empty or none keeps raw events forever; else 1 to 36500 days', () => {
    expect(loadConfig({}).rawRetentionDays).toBeUndefined();
    expect(loadConfig({ RAW_RETENTION_DAYS: 'none' }).rawRetentionDays).toBeUndefined();
    expect(loadConfig({ RAW_RETENTION_DAYS: ' 395 ' }).rawRetentionDays).toBe(395);
    for (const bad of ['0', '36501', '-1', '1.5', 'forever']) {
      expect(() => loadConfig({ RAW_RETENTION_DAYS: bad })).toThrow(/RAW_RETENTION_DAYS/);
    }
  });

  it('MAINTENANCE_INTERVAL_S: hourly by default, 0 turns maintenance in the service off', () => {
    expect(loadConfig({}).maintenanceIntervalS).toBe(3600);
    expect(loadConfig({ MAINTENANCE_INTERVAL_S: '0' }).maintenanceIntervalS).toBe(0);
    expect(() => loadConfig({ MAINTENANCE_INTERVAL_S: '-5' })).toThrow(ConfigError);
  });
});
