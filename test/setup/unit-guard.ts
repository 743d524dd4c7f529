import { afterAll, beforeAll, expect } from 'vitest';

/**
 * The unit tier runs its files one after another in shared workers (isolate: false in
 * vitest.config.ts): a file that leaves the process changed would change what the next file
 * sees. Environment variables and spies are put back by vitest after each test; what remains, a
 * working directory or a umask left changed, fails the file that changed it.
 */
let cwd: string;
let umask: number;
beforeAll(() => {
  cwd = process.cwd();
  umask = process.umask();
});
afterAll(() => {
  expect(process.cwd(), 'a test changed the working directory and did not put it back').toBe(cwd);
  expect(process.umask(), 'a test changed the umask and did not put it back').toBe(umask);
});
