import type { FindOwners } from '../engine/foreign-contents.js';
import { readRunHistory } from '../engine/run-history.js';
import { isThisHost } from '../host/binding.js';
import { hostLockFile } from '../host/host-lock.js';
import { recordedStateDirs } from '../host/state-dir-registry.js';
import { openRunStore } from '../store/open-run-store.js';
import type { RunStore } from '../store/run-store.js';

/**
 * Whose are the things a rollback found in a container it was about to delete (issue 22): the
 * runs of this host, in this state dir and in every other state dir recorded as having changed
 * this host (/run/runbook, src/host/state-dir-registry.ts), whose changed steps used those
 * names in their commands. Read only when a rollback is refused, to name them in the evidence.
 * Another state dir is opened through the one door, for reading, as `runs` would open it; one
 * that cannot be trusted or read is passed over (the kernel's evidence stands without it).
 */
export function ownerFinder(own: RunStore): FindOwners {
  return (names, exceptRun) => {
    const owners = new Map<string, string[]>();
    const wanted = new Set(names);
    let recorded: string[] = [];
    try {
      recorded = recordedStateDirs(hostLockFile());
    } catch {
      // no registry: this state dir only
    }
    const dirs = [own.dir, ...recorded.filter((dir) => dir !== own.dir)];
    for (const dir of dirs) {
      try {
        const store = dir === own.dir ? own : openRunStore(dir, 'read', { trust: own.trust });
        for (const index of store.listRuns()) {
          if (index.id === exceptRun || !isThisHost(index.host) || index.status === 'damaged') continue;
          if (index.status === 'rolled-back' || index.status === 'reverted') continue;
          const history = readRunHistory(store.readJournal(index.id).lines);
          const changed = new Set(history.changedSteps);
          const undone = new Set(history.undoneSteps);
          const used = new Set<string>();
          for (const step of history.start.plan.steps) {
            if (!changed.has(step.id) || undone.has(step.id)) continue;
            for (const command of step.do) for (const word of command.argv) if (wanted.has(word)) used.add(word);
            for (const value of Object.values(history.captures.get(step.id) ?? {}))
              if (wanted.has(value)) used.add(value);
          }
          const where = dir === own.dir ? 'this state dir' : dir;
          for (const name of used) {
            const list = owners.get(name) ?? [];
            list.push(`run ${index.id} of ${where}: ${index.runbook}, ${index.status}`);
            owners.set(name, list);
          }
        }
      } catch {
        // untrusted, unreadable or damaged: its runs are not named
      }
    }
    return owners;
  };
}
