import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inSandbox, runs } from '../helpers/cli-harness.js';
import { cliPath } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 22, item 10: the Ansible module treats a `null` parameter as "use the runbook's
 * default". It used to pass `--set container=` (an empty value): refused at best, and for a
 * parameter whose type accepts "", a different run from the one the playbook's author meant.
 * The module runs as Ansible runs it (`ansible -m runbook_project.runbook.runbook`, connection local) inside a sandbox
 * host, and the assertions read that host's kernel and state dir.
 */

/** The collection in the source tree, as ANSIBLE_COLLECTIONS_PATH finds it (issue 24). */
const collections = path.resolve(path.dirname(cliPath), '..', 'ansible', 'collections');

describe('the Ansible module with null parameters', () => {
  it('params {container: null, host_veth: vethz}: the run uses the default container1 and the given vethz', async () => {
    const scratch = tempDir();
    try {
      await inSandbox(async (host, stateDir) => {
        const args = {
          name: 'single-container',
          executable: `${process.execPath} ${cliPath}`,
          state_dir: stateDir,
          params: { container: null, host_veth: 'vethz', ping_deadline: null },
        };
        const result = await host.exec(
          ['ansible', 'localhost', '-c', 'local', '-m', 'runbook_project.runbook.runbook', '-a', JSON.stringify(args)],
          {
            env: {
              ANSIBLE_COLLECTIONS_PATH: collections,
              ANSIBLE_HOME: path.join(scratch, 'home'),
              ANSIBLE_LOCAL_TEMP: path.join(scratch, 'tmp'),
              ANSIBLE_NOCOLOR: '1',
              ANSIBLE_LOCALHOST_WARNING: 'False',
              ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False',
            },
            timeoutMs: 120_000,
          },
        );
        expect(result.exitCode, result.stdout + result.stderr).toBe(0);
        expect(result.stdout).toContain('"status": "succeeded"');
        // The kernel has the default namespace and the veth named in the task.
        const namespaces = (await host.ipJson(['netns', 'list'])) as Array<{ name: string }>;
        expect(namespaces.map((n) => n.name)).toContain('container1');
        expect(await host.ipJson(['link', 'show', 'dev', 'vethz'])).toHaveLength(1);
        // The run recorded the defaults, not empty values.
        expect(runs(stateDir).map((r) => r.status)).toEqual(['succeeded']);
        const rollback = await host.runbook(['rollback', '--state-dir', stateDir]);
        expect(rollback.exitCode, rollback.stderr).toBe(0);
      });
    } finally {
      removeDir(scratch);
    }
  });
});
