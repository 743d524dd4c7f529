import { createHostExecutor } from '../../host/host-executor.js';
import { runRunbook, validateRunRequest } from '../../engine/run.js';
import { missingHostAddresses } from '../../engine/host-addresses.js';
import { exitCodeFor, invalidInput } from '../../errors.js';
import { currentHost } from '../../host/identity.js';
import { shadowingNote } from '../../runbook/locate.js';
import { prepareRunbookCached } from '../../runbook/prepare-cached.js';
import { isInsideOneShotSandbox, reexecInOneShotSandbox, setUpTutorialHost } from '../../sandbox/one-shot.js';
import { showTutorialView } from '../../sandbox/tutorial-view.js';
import { reachesOutsideSandbox, sandboxIsolation } from '../../sandbox/reach.js';
import { defineCommand, runbookArgument, runExitCodes, setOption } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { flag, option, type OptionsOf } from '../option-spec.js';
import { formatFailure, formatStepLine, formatWhy, jsonLine, logCommand, logPlanSource } from '../output.js';
import { runEndJson } from '../json-results.js';
import { afterInterrupt, withInterruptSignal } from '../signals.js';
import { formatUndoLine, reportRollback } from './rollback.js';
import { ownerFinder } from '../run-owners.js';
import { reportProvisional, validateConfirmWithin } from './run-confirm-within.js';
import { advice, runbookCommand } from '../../suggestion.js';
import { revertLaunch } from '../revert-launch.js';
import { ReplaceNeeded } from '../../engine/plan-changes.js';
import { changePlanJson, formatChangePlan, runCommandLine } from './plan.js';
import { formatReplaceStart, formatReplaceStopped, replacedJson, replacedNote } from './replace-output.js';

const runOptions = {
  set: setOption(),
  sandbox: flag(
    '--sandbox',
    "run inside a throwaway sandbox host (fresh network + mount namespace, like the tutorial VM): the real host's network and /run/netns are not touched, and /run/runbook-sandbox is a scratch tmpfs of its own; its other files and non-net.* sysctls are shared: a runbook whose commands would change them is refused (exit 2: the run could not be rolled back once the sandbox is gone), and a warning names commands that may read them",
  ),
  until: option(
    '--until <step-id>',
    'stop after this step (replay the tutorial stage by stage); `runbook resume` continues (not for --sandbox, whose host is gone)',
    { complete: 'steps' },
  ),
  rollbackOnFailure: flag(
    '--rollback-on-failure',
    'if a step fails, undo what this run changed (in reverse order), then exit 1; an interrupted run is left for resume',
  ),
  confirmWithin: option(
    '--confirm-within <duration>',
    'on success, keep the change only if `runbook confirm` comes within DURATION (90, 30s, 5m, 1h) from a new session; else a systemd timer (or a watchdog) rolls it back',
  ),
  explain: flag('--explain', "after each step's line, print why the step is there (its `why:`, the tutorial's lesson)"),
  replace: flag(
    '--replace',
    'a run of this runbook with other values is in effect here: undo its steps from the first that changes (newest first), then run with the new values (see `runbook plan`)',
  ),
  json: flag('--json', 'print machine-readable events (one JSON object per line) instead of text'),
};

export type RunOptions = OptionsOf<typeof runOptions>;

export const command = defineCommand({
  name: 'run',
  description: 'run a runbook: each step is checked first, done only if needed, verified, and journaled',
  arguments: [runbookArgument],
  options: runOptions,
  help: `
Each step prints one line when it completes:
  ok       the step already held; nothing was done
  changed  the step was done and verified
  failed   the step's verification failed; the diagnosis names the cause and the fix

--confirm-within makes a change provisional, like Juniper's \`commit confirmed\` or \`netplan try\`:
the run returns at once, leaving what rolls the run back at the deadline unless \`runbook confirm\`
came first: a systemd transient timer where systemd is init (nothing of runbook's needs to
survive), else a watchdog (its own session, no terminal, SIGHUP ignored). If the watchdog is
gone, \`runs\` says so and the next run, resume, rollback, confirm or prune here reverts the
expired run first (check, plan, runs, journal and topology only say so). A run made while runs of the same runbook await
confirmation here joins them: one deadline (the later one), and \`runbook confirm\` keeps them
all. RUNBOOK_REVERT_GUARD=timer|watchdog forces one. Not with --sandbox or --until.

Re-applying with other values: when a run of the runbook with other values is in effect here,
the new values replace it (issue 23). Its steps are kept up to the first whose commands change;
from there on, every step it changed is undone, newest first (journaled in its journal, as a
rollback), and done again with the new values; the kept ones are handed over to the new run,
whose rollback then leaves the host as before the first run. When that undoes anything, run
refuses (exit 2, nothing changed) and prints the plan, unless --replace is given. A run of
other objects altogether (another container, veth and subnet) is another instance, left alone.

Preconditions about the host as found (a subnet routed elsewhere, a name in use, the programs)
are checked before the first change; a run they refuse changes nothing and names all of them
(exit 2). A host address the runbook expects (on_this_host) that this host lacks only warns.`,
  examples: [
    ['sudo runbook run single-container --sandbox', 'in a throwaway sandbox host'],
    ['sudo runbook run single-container', 'on this host (a tutorial-like VM)'],
    ['sudo runbook run single-container --until host-route', "stop at the tutorial's step 9"],
    ['sudo runbook run single-container --sandbox --explain', 'and say why each step is there'],
    ['sudo runbook run multi-container --sandbox --set count=3', 'three containers on one bridge'],
    ['sudo runbook run container-internet --rollback-on-failure', 'undo everything if a step fails'],
    ['sudo runbook run single-container --confirm-within 2m', 'then, from a new ssh session:'],
    ['sudo runbook confirm', 'keep it (else it is undone after 2 min)'],
    [
      'sudo runbook run single-container --set container_cidr=172.16.0.3/24 --set gateway=172.16.0.3 --replace',
      're-apply with new values: converge',
    ],
  ],
  exitCodes: runExitCodes,
  stateDir: 'write',
  needsRoot: (options) => (options.sandbox === true ? 'sandbox' : 'net-admin'),
  dueRuns: 'revert',
  action: (ctx, [runbook], options, { argv }) => runCommand(ctx, runbook, options, argv),
});

/** `runbook run <runbook>`: validate, then run every step (in a sandbox host with --sandbox). */
export async function runCommand(
  ctx: CliContext,
  runbookName: string,
  options: RunOptions,
  rawArgs: readonly string[],
): Promise<number> {
  // Exit 2 here leaves the host untouched. Inside a sandbox host, parameters may have sandbox
  // defaults (e.g. the stand-in internet address instead of a real one).
  const inSandbox = options.sandbox === true || currentHost().sandbox !== undefined;
  const confirmWithinMs = validateConfirmWithin(options);
  const prepared = await prepareRunbookCached(runbookName, options.set, { inSandbox, store: ctx.store });
  // Said once: by the command typed, not again by its re-run inside a --sandbox host.
  const shadowing = isInsideOneShotSandbox() ? undefined : shadowingNote(runbookName);
  if (shadowing !== undefined) ctx.err(shadowing);
  prepared.remember();
  logPlanSource(ctx, prepared.fromCache);

  // Everything that can refuse the run is checked before a --sandbox host is made or anything is
  // printed as started (issue 26): the --until step and the programs here, the lock before the
  // sandbox, and the header only once the run is under way (onStart).
  const executor = createHostExecutor();
  validateRunRequest(prepared.plan, prepared.runbook.spec.name, options.until, executor);
  if (options.sandbox && !isInsideOneShotSandbox()) {
    refuseChangesOutsideSandbox(prepared.runbook.spec.name, reachesOutsideSandbox(prepared.plan).changing, runbookName);
    ctx.store.refuseIfLocked();
    return reexecInOneShotSandbox(rawArgs);
  }
  if (isInsideOneShotSandbox()) await setUpTutorialHost(executor);
  // Not a refusal (issue 26): said with the header, once the run is sure to start.
  const missing = await missingHostAddresses(prepared.runbook.spec.parameters, prepared.params, executor);

  const announce = () => {
    for (const { param, address } of missing)
      ctx.err(
        `warning: ${param}=${address} is not an address of this host (no interface has it): the steps that reach it will fail; the run goes on`,
      );
    if (isInsideOneShotSandbox()) {
      if (!options.json) {
        ctx.out('sandbox host ready: uplink enp0s8 10.0.0.10/24, gateway 10.0.0.1 (vanishes when this command ends)');
        ctx.out(`  ${sandboxIsolation}`);
      }
      const reading = reachesOutsideSandbox(prepared.plan).reading;
      if (reading.length > 0) {
        ctx.err(`warning: these commands of ${prepared.runbook.spec.name} may read the real host's files or sysctls:`);
        for (const command of reading) ctx.err(`  ${command}`);
      }
    }
    if (!options.json) ctx.out(`run ${prepared.runbook.spec.name} (${prepared.plan.steps.length} steps)`);
  };
  const whyOf = new Map(prepared.plan.steps.map((step) => [step.id, step.why]));
  const afterStop = isInsideOneShotSandbox() ? afterInterrupt.oneShotRun : afterInterrupt.run;
  const result = await withInterruptSignal(
    ctx,
    (signal) =>
      runRunbook({
        replace: options.replace,
        onReplace: (replaces) => {
          if (options.json) return ctx.out(jsonLine({ event: 'replace', runs: replaces }));
          for (const line of formatReplaceStart(replaces)) ctx.out(line);
        },
        onReplaceUndo: (runId, report) =>
          ctx.out(options.json ? jsonLine({ event: 'replace-undo', runId, ...report }) : formatUndoLine(report)),
        findOwners: ownerFinder(ctx.store),
        runbook: prepared.runbook,
        params: prepared.params,
        plan: prepared.plan,
        store: ctx.store,
        executor,
        stopAfter: options.until,
        signal,
        onStart: announce,
        onStep: (report) => {
          if (options.json) return ctx.out(jsonLine({ event: 'step', ...report }));
          ctx.out(formatStepLine(report));
          const why = whyOf.get(report.stepId);
          if (options.explain && why !== undefined) formatWhy(why).forEach((line) => ctx.out(line));
        },
        onCommand: logCommand(ctx),
        rollbackOnFailure: options.rollbackOnFailure,
        onUndo: (report) => ctx.out(options.json ? jsonLine({ event: 'undo', ...report }) : formatUndoLine(report)),
        onNote: (note) => ctx.err(`note: ${note}`),
        confirmWithin:
          confirmWithinMs === undefined ? undefined : { ms: confirmWithinMs, revertLaunch: revertLaunch(ctx.store) },
      }).catch((error: unknown) => {
        // The plan is what the user needs to decide: printed before the refusal says --replace.
        if (error instanceof ReplaceNeeded) {
          if (options.json) ctx.out(jsonLine(changePlanJson(error.plan)));
          else
            for (const line of formatChangePlan(error.plan, runCommandLine(runbookName, options.set, ctx.render)))
              ctx.out(line);
        }
        throw error;
      }),
    afterStop,
  );
  const oneShot = isInsideOneShotSandbox();
  const next = result.rollback !== undefined ? 'rolling-back' : oneShot ? 'one-shot-sandbox' : 'resume-or-rollback';

  const changed = result.steps.filter((s) => s.outcome === 'changed').length;
  if (options.json) {
    ctx.out(
      jsonLine({
        ...runEndJson(result.runId, prepared.runbook.spec.name, result),
        replaced: replacedJson(result.replaced),
      }),
    );
  } else if (result.status === 'failed' && result.failure !== undefined) {
    for (const line of formatFailure(result.failure, result.runId, ctx.render, next)) ctx.err(line);
  } else if (result.replaced !== undefined && result.replaced.status !== 'replaced') {
    for (const line of formatReplaceStopped(
      result.runId,
      result.replaced,
      oneShot ? 'one-shot-sandbox' : next,
      ctx.render,
    ))
      ctx.err(line);
  } else {
    const summary = {
      succeeded:
        (changed === 0
          ? 'succeeded: nothing to change, every step already holds'
          : `succeeded: ${changed} step(s) changed`) + replacedNote(result.replaced),
      stopped: `stopped after step ${options.until} as asked (--until)${oneShot ? '' : `; continue with \`${ctx.render(runbookCommand('resume', result.runId))}\``}`,
      interrupted: `interrupted at a safe point${oneShot ? '' : `; continue with \`${ctx.render(runbookCommand('resume', result.runId))}\` or undo with \`${ctx.render(runbookCommand('rollback', result.runId))}\``}`,
      failed: 'failed',
    }[result.status];
    ctx.out(`run ${result.runId} ${summary}`);
  }
  if (result.rollback !== undefined) {
    if (!options.json)
      ctx.err(`--rollback-on-failure: the undo of what run ${result.runId} changed is above, in reverse order`);
    reportRollback(ctx, result.rollback, options.json === true);
    // The run failed whether or not its undo finished; only an interrupted undo says otherwise.
    return exitCodeFor(
      result.rollback.kind === 'rollback' && result.rollback.status === 'interrupted' ? 'interrupted' : 'failed',
    );
  }
  if (result.provisional !== undefined)
    return reportProvisional(ctx, result.runId, result.provisional, options.json === true);
  if (isInsideOneShotSandbox() && !options.json) await showTutorialView(ctx.out, executor, prepared.params);

  return exitCodeFor(result.status);
}

/**
 * A one-shot sandbox host vanishes with the command, and its runs with it: a change it made to
 * the real host's files or sysctls could never be rolled back. So such a runbook is refused
 * before anything runs (issue 11); a persistent sandbox (whose runs can be rolled back) or
 * paths under the sandbox's scratch dir are the ways to run it.
 */
function refuseChangesOutsideSandbox(runbook: string, changing: readonly string[], shownAs = runbook): void {
  if (changing.length === 0) return;
  throw invalidInput(
    `runbook ${runbook} would change the real host's files or sysctls, which a one-shot sandbox does not isolate, ` +
      `and its run could not be rolled back once the sandbox vanishes; nothing was changed:\n` +
      changing.map((command) => `  ${command}`).join('\n'),
    advice`point its file parameters under /run/runbook-sandbox/ (--set …), or use a persistent sandbox, whose runs can be rolled back: ${runbookCommand('sandbox', 'create', 'NAME')}, then ${runbookCommand('--in', 'NAME', 'run', shownAs)}`,
  );
}
