import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'web/src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Multi-process SQLite tests compete for two cores; keep files in a few forks, not one per core-thread.
    pool: 'forks',
    maxWorkers: 2,
  },
});
