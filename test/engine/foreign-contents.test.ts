import { describe, expect, it } from 'vitest';
import { containmentGuard, deletedContainer, foreignIn } from '../../src/engine/foreign-contents.js';
import { undoSteps } from '../../src/engine/undo-steps.js';
import { MemoryJournal } from '../../src/journal/sink.js';
import { FakeExecutor } from '../helpers/fake-executor.js';
import { fakeStep } from '../helpers/plans.js';

/**
 * Issue 22, item 5, in memory: which undo commands delete a container, what of its contents
 * is foreign to the run, and the guard that refuses the step (journaled as an `undo-guard`
 * check) before anything of it runs. The kernel tier (test/integration/foreign-contents.test.ts)
 * runs the issue's cases against real namespaces.
 */

describe('deletedContainer', () => {
  it.each([
    [['ip', 'netns', 'del', 'container1'], { kind: 'namespace', name: 'container1' }],
    [['ip', 'netns', 'delete', 'c2'], { kind: 'namespace', name: 'c2' }],
    [['ip', 'link', 'del', 'dev', 'veth1'], { kind: 'link', name: 'veth1', netns: undefined }],
    [['ip', 'link', 'delete', 'br0', 'type', 'bridge'], { kind: 'link', name: 'br0', netns: undefined }],
    [['ip', '-n', 'container1', 'link', 'del', 'dev', 'ceth1'], { kind: 'link', name: 'ceth1', netns: 'container1' }],
    [['ip', '-netns', 'c', '-d', 'link', 'del', 'x'], { kind: 'link', name: 'x', netns: 'c' }],
    [['ip', 'netns', 'exec', 'c', 'ip', 'link', 'del', 'x'], { kind: 'link', name: 'x', netns: 'c' }],
    [['/usr/sbin/ip', 'link', 'del', 'x'], { kind: 'link', name: 'x', netns: undefined }],
  ])('%j deletes %j', (argv, container) => {
    expect(deletedContainer(argv)).toEqual(container);
  });

  it.each([
    [['ip', 'addr', 'del', '172.16.0.2/24', 'dev', 'ceth1']],
    [['ip', 'route', 'del', 'default']],
    [['ip', 'link', 'set', 'dev', 'veth1', 'down']],
    [['iptables', '-t', 'nat', '-D', 'POSTROUTING']],
    [['ip', 'netns', 'add', 'c']],
  ])('%j deletes no container', (argv) => {
    expect(deletedContainer(argv)).toBeUndefined();
  });
});

describe('foreignIn', () => {
  it('keeps what the run did not name; an address counts as the run’s with or without its prefix', () => {
    const own = new Set(['ceth1', '172.16.0.2/24', 'default', '10.1.1.1']);
    expect(
      foreignIn(
        [
          { what: 'link', name: 'ceth1' },
          { what: 'link', name: 'ceth2' },
          { what: 'address', name: '172.16.0.2/24' },
          { what: 'address', name: '10.1.1.1/32' },
          { what: 'address', name: '10.9.9.9/24' },
          { what: 'route', name: 'default' },
        ],
        own,
      ).map((c) => c.name),
    ).toEqual(['ceth2', '10.9.9.9/24']);
  });
});

/** A namespace container1 whose `ip -j addr show` lists these links (lo with the kernel's address). */
function namespaceWith(...links: string[]): FakeExecutor {
  const listing = [
    { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }] },
    ...links.map((ifname) => ({ ifname, addr_info: [] })),
  ];
  return new FakeExecutor()
    .on('ip -n container1 -j addr show', { stdout: JSON.stringify(listing) })
    .on('has', { exitCode: 1 });
}

const deleteNamespace = fakeStep('namespace', {
  undo: [{ argv: ['ip', 'netns', 'del', 'container1'], timeoutMs: 1000 }],
});

describe('the guard before an undo', () => {
  it('refuses the step, naming what is foreign and whose it is, and runs none of its undo', async () => {
    const executor = namespaceWith('ceth1', 'b-link');
    const journal = new MemoryJournal();
    const guard = containmentGuard(new Set(['ceth1']), (names) => new Map(names.map((n) => [n, [`run B (${n})`]])));
    const result = await undoSteps({ steps: [deleteNamespace], executor, journal, signal: undefined, guard });
    expect(result.status).toBe('failed');
    expect(result.steps[0]).toMatchObject({
      outcome: 'undo-failed',
      refused: true,
      stillHolds:
        'refused: the namespace container1 holds what this run did not make: link b-link (made by run B (b-link)); deleting it would delete that too, so it was left in place',
    });
    expect(executor.calls).toEqual(['ip -n container1 -j addr show']);
    const types = journal.entries.map((e) => `${e.type}${'phase' in e ? ` ${e.phase}` : ''}`);
    expect(types).toEqual(['command-start undo-guard', 'command-end undo-guard', 'check undo-guard', 'step-undone']);
    expect(journal.entries.at(-1)).toMatchObject({ outcome: 'undo-failed', reason: expect.stringContaining('b-link') });
  });

  it('lets the undo run when the container holds only what the run made (lo and the kernel’s addresses count as nobody’s)', async () => {
    const executor = namespaceWith('ceth1');
    const result = await undoSteps({
      steps: [deleteNamespace],
      executor,
      journal: new MemoryJournal(),
      signal: undefined,
      guard: containmentGuard(new Set(['ceth1'])),
    });
    expect(result.status).toBe('rolled-back');
    expect(executor.calls).toEqual(['ip -n container1 -j addr show', 'ip netns del container1', 'has namespace']);
  });

  it('a container already gone is no reason to refuse: the undo runs (and finds it gone)', async () => {
    const executor = new FakeExecutor()
      .on('ip -n container1 -j addr show', {
        exitCode: 255,
        stderr: 'Cannot open network namespace "container1": No such file or directory',
      })
      .on('has', { exitCode: 1 });
    const result = await undoSteps({
      steps: [deleteNamespace],
      executor,
      journal: new MemoryJournal(),
      signal: undefined,
      guard: containmentGuard(new Set()),
    });
    expect(result.status).toBe('rolled-back');
  });

  it('what it holds cannot be read (ip not answering JSON): refused, since it could hold anything', async () => {
    const executor = new FakeExecutor().on('ip -n container1 -j addr show', { stdout: 'garbage' });
    const result = await undoSteps({
      steps: [deleteNamespace],
      executor,
      journal: new MemoryJournal(),
      signal: undefined,
      guard: containmentGuard(new Set()),
    });
    expect(result.status).toBe('failed');
    expect(result.steps[0]?.stillHolds).toContain('could not be read');
    expect(executor.calls).not.toContain('ip netns del container1');
  });

  it('a bridge: its ports are what it holds; one the run did not add refuses its deletion', async () => {
    const links = [
      {
        ifname: 'br0',
        linkinfo: { info_kind: 'bridge' },
        addr_info: [{ local: '172.16.0.1', prefixlen: 24, scope: 'global' }],
      },
      { ifname: 'veth1', master: 'br0', addr_info: [] },
      { ifname: 'x-port', master: 'br0', addr_info: [] },
    ];
    const executor = new FakeExecutor()
      .on('ip -j -d addr show', { stdout: JSON.stringify(links) })
      .on('ip -j route show dev br0', { stdout: '[{"dst":"172.16.0.0/24","protocol":"kernel"}]' });
    const step = fakeStep('bridge', { undo: [{ argv: ['ip', 'link', 'del', 'br0'], timeoutMs: 1000 }] });
    const result = await undoSteps({
      steps: [step],
      executor,
      journal: new MemoryJournal(),
      signal: undefined,
      guard: containmentGuard(new Set(['br0', 'veth1', '172.16.0.1/24'])),
    });
    expect(result.steps[0]?.stillHolds).toContain(
      'the link br0 holds what this run did not make: port x-port (made by no run this host knows of)',
    );
  });
});
