import { defineConfig } from 'vitest/config';

/**
 * Four tiers (CONTRIBUTING.md): `unit` needs no root and no kernel (src in memory, fakes, temp
 * dirs); `kernel` runs the built CLI against real kernels inside throwaway sandbox hosts (root);
 * `golden` replays what earlier releases wrote (root); `crash` is the crash-point sweep (root,
 * minutes). `npm test` runs them all; `npm run test:unit` (and `test:kernel`, `test:golden`,
 * `test:crash`) one. Each tier rebuilds dist/ first when it is
 * older than src/ (test/setup/build-dist.ts), so a single-file run never tests a stale build.
 */
export default defineConfig({
  test: {
    // Real-kernel tests create sandbox hosts and run the CLI: seconds, not milliseconds.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make the sandbox tests contend.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'test/engine/**/*.test.ts',
            'test/exec/**/*.test.ts',
            'test/runbook/**/*.test.ts',
            'test/journal/**/*.test.ts',
            'test/trust/**/*.test.ts',
            'test/docs/**/*.test.ts',
            'test/cli/**/*.test.ts',
            'test/topology/**/*.test.ts',
            'test/cni/unit/**/*.test.ts',
          ],
          // A few unit tests run the built CLI (completion): no root, no kernel.
          globalSetup: ['test/setup/build-dist.ts'],
          // One module cache per worker for all its files, rather than one per file: importing
          // the engine (zod, xstate, execa) again for each of 40 files was half the tier's CPU
          // time (issue 27: 28 s → 14 s of CPU). What a file changes of the process is put back
          // after each test (environment, spies) and checked after each file (unit-guard.ts).
          isolate: false,
          unstubEnvs: true,
          restoreMocks: true,
          setupFiles: ['test/setup/unit-guard.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'kernel',
          // test/fleet: Ansible over real SSH to sandbox hosts (issue 14; CI installs ansible-core and sshd).
          // test/cni: the CNI plugin, called directly and by podman (issue 25; CI installs podman).
          include: ['test/integration/**/*.test.ts', 'test/fleet/**/*.test.ts', 'test/cni/*.test.ts'],
          globalSetup: ['test/setup/build-dist.ts'],
        },
      },
      {
        extends: true,
        test: {
          // Journals and state dirs written by earlier releases (test/fixtures/golden-*), read,
          // resumed and rolled back by this version in sandbox hosts (issue 27): root.
          name: 'golden',
          include: ['test/golden/**/*.test.ts'],
          globalSetup: ['test/setup/build-dist.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'crash',
          include: ['test/crash/**/*.test.ts'],
          globalSetup: ['test/setup/build-dist.ts', 'test/setup/crash-reference.ts'],
        },
      },
    ],
  },
});
