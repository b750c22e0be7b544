import { defineProject } from 'vitest/config';

export default defineProject({
  // Tests run against the sources of the workspace packages: no build needed first.
  resolve: {
    alias: {
      '@ballast/core': new URL('../../packages/core/src/index.ts', import.meta.url).pathname,
      '@ballast/pg': new URL('../../packages/pg/src/index.ts', import.meta.url).pathname,
      '@ballast/redis': new URL('../../packages/redis/src/index.ts', import.meta.url).pathname,
      '@ballast/testkit': new URL('../../packages/testkit/src/index.ts', import.meta.url).pathname,
    },
  },
  test: {
    name: 'inference-service',
    include: ['src/**/*.test.ts', 'demo/**/*.test.ts'],
    // A shared PostgreSQL primary + replica and Redis for the run (inject('ballast')).
    globalSetup: ['../../packages/testkit/src/vitest-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
