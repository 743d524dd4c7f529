import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real-kernel tests create sandbox hosts and run the CLI: seconds, not milliseconds.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make the sandbox tests contend.
    maxWorkers: 2,
  },
});
