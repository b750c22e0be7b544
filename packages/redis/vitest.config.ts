import { defineProject } from 'vitest/config';

export default defineProject({
  // Tests run against the sources of the workspace packages: no build needed first.
  resolve: {
    alias: {
      // Listed before '@ballast/core', which would otherwise also rewrite this subpath.
      '@ballast/core/testing': new URL('../core/src/testing/index.ts', import.meta.url).pathname,
      '@ballast/core': new URL('../core/src/index.ts', import.meta.url).pathname,
      '@ballast/testkit': new URL('../testkit/src/index.ts', import.meta.url).pathname,
    },
  },
  test: {
    name: 'redis',
    include: ['src/**/*.test.ts'],
    // A shared Redis (and PostgreSQL) for the run (inject('ballast')); tests that kill, block or migrate
    // start their own servers through @ballast/testkit.
    globalSetup: ['../testkit/src/vitest-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
