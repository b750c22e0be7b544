import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'testkit',
    include: ['src/**/*.test.ts'],
    // One shared PostgreSQL primary + replica and Redis for tests that only use them (inject('ballast')); tests
    // of starting, killing and promoting start their own.
    globalSetup: ['src/vitest-setup.ts'],
    // Real servers: starting a primary and a replica takes seconds on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
