import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The Citus cluster's own tests run with `npm run test:citus` (vitest.citus.config.ts).
    exclude: ['test/citus/**', 'node_modules/**'],
    // One PostgreSQL for the run (embedded unless DATABASE_URL/TEST_DATABASE_URL is set),
    // a migrated template database, and a database of its own for each test file.
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
