import { defineProject } from 'vitest/config';

export default defineProject({
  // Tests run against the sources of the workspace packages: no build needed first.
  resolve: {
    alias: {
      '@ballast/core': new URL('../core/src/index.ts', import.meta.url).pathname,
      '@ballast/testkit': new URL('../testkit/src/index.ts', import.meta.url).pathname,
    },
  },
  test: {
    name: 'pg',
    include: ['src/**/*.test.ts'],
    // A shared PostgreSQL primary + replica and Redis for the run (inject('ballast')); tests that kill, promote
    // or pause start their own cluster through @ballast/testkit.
    globalSetup: ['../testkit/src/vitest-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
