import type { Finding } from '../engine/machine.js';
import { hostCommand, type Advice, type Suggestion } from '../suggestion.js';

/**
 * A step that did not hold, as the details of the spec's error (ADD's failure, CHECK's drift):
 * the check and its reason, then each cause the probes found and its fix, one a line. A fix is
 * the runbook author's command for this host, rendered at the edge as the CLI renders it.
 */
export function diagnosisDetails(title: string, reason: string, findings: readonly Finding[]): Advice {
  const parts: Array<string | Suggestion> = [`${title}: ${reason}`];
  for (const finding of findings) {
    parts.push(`\ncause: ${finding.cause}`);
    if (finding.fix !== undefined) parts.push('\nfix: ', hostCommand(finding.fix));
  }
  return parts;
}
