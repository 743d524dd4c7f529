import { toShellLine } from '../text/shell-words.js';
import type { CommandEndEntry, JournalLine } from './entries.js';

/**
 * A readable timeline of a journal: every step, and every command as the shell line a person
 * could paste, with its result. Pure: lines in, text lines out.
 */
export function formatTimeline(lines: readonly JournalLine[]): string[] {
  const out: string[] = [];
  lines.forEach((line) => {
    const time = line.time.slice(11, 23);
    switch (line.type) {
      case 'run-start':
        out.push(
          `run ${line.runId} of ${line.runbook}, started ${line.time} by uid ${line.user.uid}${line.user.sudoUser ? ` (sudo from ${line.user.sudoUser})` : ''}`,
        );
        out.push(
          `  host ${line.host.hostname}, network namespace ${line.host.netns}${line.host.sandbox ? `, sandbox ${line.host.sandbox}` : ''}; engine ${line.engineVersion}`,
        );
        out.push(`  runbook ${line.runbookFile} (sha256 ${line.runbookHash.slice(0, 12)}…)`);
        out.push(
          `  parameters: ${Object.entries(line.params)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}${line.stopAfter ? `; --until ${line.stopAfter}` : ''}`,
        );
        for (const run of line.replaces ?? [])
          out.push(
            `  replaces run ${run.runId} (other values): undoes ${run.undo.join(', ') || 'nothing'}; takes over ${run.takeOver.map((t) => t.step).join(', ') || 'nothing'}`,
          );
        break;
      case 'attempt-start':
        out.push(
          '',
          `${time} ${line.kind} started by pid ${line.pid} (uid ${line.user.uid})${line.note ? `: ${line.note}` : ''}`,
        );
        break;
      case 'step-start':
        out.push('', `${time} step ${line.step}: ${line.title}`);
        break;
      case 'command-start': {
        const end = findEnd(lines, line.seq);
        const result = end === undefined ? 'no result recorded (the process stopped while it ran)' : describeEnd(end);
        const notes = [
          line.attempt === undefined ? '' : `   (attempt ${line.attempt})`,
          line.stdin === undefined
            ? ''
            : `   <<< ${JSON.stringify(line.stdin.length > 200 ? `${line.stdin.slice(0, 200)}…` : line.stdin)}`,
        ].join('');
        // A `read:` check ran no program: no "$" prompt that would say otherwise.
        const what =
          line.read === undefined ? `$ ${toShellLine(line.argv)}` : `  read ${line.read}   (read in-process)`;
        out.push(`${time}   ${line.phase.padEnd(10)} ${what}${notes}`);
        out.push(`${' '.repeat(12)}   ${' '.repeat(10)}   → ${result}`);
        break;
      }
      case 'command-skipped':
        out.push(`${time}   ${line.phase.padEnd(10)}   command ${line.index + 1} not run: ${line.reason}`);
        break;
      case 'check': {
        // After an undo, `ok` means the effect is gone: say so, not "holds". Before an undo that
        // deletes a container, the guard's verdict says what it found (issue 22).
        const verdict =
          line.phase === 'undo-check'
            ? line.ok
              ? '✓ gone'
              : `✗ still there: ${line.reason}`
            : line.phase === 'undo-guard'
              ? `${line.ok ? '✓' : '✗'} ${line.reason}`
              : line.ok
                ? '✓ holds'
                : `✗ does not hold: ${line.reason}`;
        out.push(`${' '.repeat(12)}   ${' '.repeat(10)}   ${verdict}`);
        break;
      }
      case 'capture':
        out.push(
          `${' '.repeat(12)}   ${' '.repeat(10)}   captured ${line.name} = ${JSON.stringify(line.value)} (for undo)`,
        );
        break;
      case 'export':
        out.push(
          `${' '.repeat(12)}   ${' '.repeat(10)}   exported ${line.name} = ${JSON.stringify(line.value)} (for the steps after it)`,
        );
        break;
      case 'final-pass-start':
        out.push('', `${time} final pass: ${line.steps.length} step(s) verified again, checks only`);
        break;
      case 'final-pass-end':
        out.push(
          line.status === 'held'
            ? `${time}   ⇒ every step still holds`
            : `${time}   ⇒ ${line.step} no longer holds; changed the host after it: ${(line.undoneBy ?? []).join(', ') || '(none)'}`,
        );
        break;
      case 'finding':
        out.push(
          `${time}   diagnosis: ${line.cause}${line.evidence ? ` (evidence: "${line.evidence}")` : ''}${line.fix ? `; fix: ${line.fix}` : ''}`,
        );
        break;
      case 'step-end':
        out.push(
          `${time}   ⇒ ${line.outcome} (${line.durationMs} ms)${line.doFailed ? ', although its do command failed' : ''}${line.reason === undefined ? '' : `: ${line.reason}`}`,
        );
        break;
      case 'run-end':
        out.push(
          '',
          `${time} run ${line.status}${line.failedStep ? ` at step ${line.failedStep}` : ''}${line.message ? `: ${line.message}` : ''}`,
        );
        break;
      case 'rollback-start': {
        const what =
          line.replacedBy !== undefined
            ? `undo of the steps that differ (replaced by run ${line.replacedBy})`
            : (line.reason ?? 'rollback');
        out.push(
          '',
          `${time} ${what}: ${line.steps.length} step(s), in reverse order: ${line.steps.join(', ') || '(none)'}`,
        );
        break;
      }
      case 'step-undone':
        out.push(
          `${time}   ⇐ ${line.step} ${line.outcome} (${line.durationMs} ms)${line.reason ? `: ${line.reason}` : ''}`,
        );
        break;
      case 'rollback-end':
        out.push(
          '',
          `${time} ${line.replacedBy !== undefined ? 'undo for the replace' : line.reason === undefined ? 'rollback' : 'automatic revert'} ${line.status}${line.message ? `: ${line.message}` : ''}`,
        );
        break;
      case 'replaced':
        out.push(
          `${time} replaced by run ${line.by}, which takes over ${line.handedOver.length} step(s): ${line.handedOver.join(', ') || '(none)'}`,
        );
        break;
      case 'replace-end':
        out.push(`${time} replace ${line.status}${line.message ? `: ${line.message}` : ''}`);
        break;
      case 'confirm-pending':
        out.push(
          '',
          `${time} awaiting confirmation until ${line.deadline} (--confirm-within ${line.withinMs / 1000} s); unconfirmed, the run is rolled back then${line.joined?.length ? `; it joined run(s) ${line.joined.join(', ')}, which await with it` : ''}`,
        );
        break;
      case 'watchdog-started':
        out.push(`${time}   watchdog pid ${line.pid} started (its own session, no terminal)`);
        break;
      case 'timer-armed':
        out.push(`${time}   systemd timer ${line.unit}.timer armed: it reverts the run at ${line.deadline}`);
        break;
      case 'deadline-moved':
        out.push(
          '',
          `${time} deadline moved from ${line.previous} to ${line.deadline} (${line.why === 'extend' ? `runbook confirm --extend, by uid ${line.user.uid}` : `run ${line.by ?? '?'} joined it`})`,
        );
        break;
      case 'confirmed':
        out.push(
          '',
          `${time} confirmed by uid ${line.user.uid}${line.user.sudoUser ? ` (sudo from ${line.user.sudoUser})` : ''}, pid ${line.pid}, before the deadline ${line.deadline}: the change stays`,
        );
        break;
      case 'command-end':
        break; // shown with its command-start, above
    }
  });
  return out;
}

/** A command's result is the next entry after its start (the engine runs one command at a time). */
function findEnd(lines: readonly JournalLine[], startSeq: number): CommandEndEntry | undefined {
  const next = lines[startSeq]; // lines are 1-based by seq: the entry after seq N is at index N
  return next?.type === 'command-end' ? next : undefined;
}

function describeEnd(end: CommandEndEntry): string {
  const status =
    end.startError ??
    (end.timedOut
      ? `timed out after ${end.durationMs} ms`
      : end.signal
        ? `killed by ${end.signal}`
        : `exit ${end.exitCode}`);
  const firstErr = end.stderr.trim().split('\n')[0];
  return `${status} (${end.durationMs} ms)${end.exitCode !== 0 && firstErr ? ` — ${firstErr}` : ''}`;
}
