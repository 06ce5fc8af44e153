import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Tests spawn real peers (ntfsclone, bzip2, sfdisk) and worker threads; two files at a time
    // keeps a 2-core CI machine responsive.
    maxWorkers: 2,
  },
});
