import { defineConfig } from 'vitest/config';

export default defineConfig({
  // graphql ships CJS and ESM builds; Node (and so Pothos and yoga) load the CJS one, so our own
  // imports must too, or graphql-js refuses schema objects "from another module or realm".
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['test/**/*.test.ts'],
    // Every file starts its own Redis and servers; two at a time fits this 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    // The leak tests force a full GC before measuring the heap.
    execArgv: ['--expose-gc'],
    // Console output of a passing test is noise to a newcomer; a failing test's is kept.
    silent: 'passed-only',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
