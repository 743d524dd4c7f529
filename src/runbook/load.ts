import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { invalidInput } from '../errors.js';
import { packageRoot } from '../version.js';
import { RunbookSpec } from './schema.js';
import { hasMalformedPlaceholder, placeholdersIn, stringsIn } from './template.js';

/** The runbooks shipped with runbook; `runbook run NAME` looks here. */
export const runbooksDir = path.join(packageRoot, 'runbooks');

/** A runbook file read from disk and validated, with what the journal needs to pin it. */
export interface LoadedRunbook {
  spec: RunbookSpec;
  /** Where it was read from. */
  file: string;
  /** The exact text, recorded in the journal so that resume runs what was started. */
  source: string;
  /** sha256 of `source`, to notice a runbook file that changed under a run. */
  hash: string;
}

/** `NAME` means runbooks/NAME.yaml; anything with a slash or a .yaml/.yml ending is a path. */
export function resolveRunbookFile(nameOrPath: string): string {
  if (nameOrPath.trim() === '') throw invalidInput('the runbook name is empty', 'list them with: runbook list');
  const isPath = nameOrPath.includes('/') || /\.ya?ml$/.test(nameOrPath);
  const file = isPath ? path.resolve(nameOrPath) : path.join(runbooksDir, `${nameOrPath}.yaml`);
  if (!existsSync(file)) {
    throw isPath
      ? invalidInput(`runbook file not found: ${file}`)
      : invalidInput(`unknown runbook "${nameOrPath}" (no ${file})`, `available: ${listRunbookNames().join(', ')}`);
  }
  return file;
}

export function listRunbookNames(): string[] {
  return readdirSync(runbooksDir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

export function loadRunbook(nameOrPath: string): LoadedRunbook {
  const file = resolveRunbookFile(nameOrPath);
  return parseRunbook(readFileSync(file, 'utf8'), file);
}

/** Parses and validates runbook text; every problem names the file and the field. */
export function parseRunbook(source: string, file: string): LoadedRunbook {
  const doc = parseDocument(source, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw invalidInput(`${file}: not valid YAML:\n${doc.errors.map((e) => `  ${e.message}`).join('\n')}`);
  }
  const parsed = RunbookSpec.safeParse(doc.toJS());
  if (!parsed.success) {
    throw invalidInput(`${file}: not a valid runbook:\n${formatIssues(parsed.error.issues)}`, 'the format is described in docs/runbook-format.md');
  }
  checkPlaceholders(parsed.data, file);
  return { spec: parsed.data, file, source, hash: createHash('sha256').update(source).digest('hex') };
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((issue) => `  ${formatPath(issue.path)}: ${issue.message}`).join('\n');
}

function formatPath(parts: readonly PropertyKey[]): string {
  if (parts.length === 0) return '(top level)';
  return parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** Every {{placeholder}} must name a declared parameter: caught before anything runs. */
function checkPlaceholders(spec: RunbookSpec, file: string): void {
  const problems: string[] = [];
  spec.steps.forEach((step, index) => {
    for (const [field, value] of Object.entries(step)) {
      for (const text of stringsIn(value)) {
        if (hasMalformedPlaceholder(text)) problems.push(`  steps[${index}] (${step.id}).${field}: malformed placeholder in "${text}"`);
        for (const name of placeholdersIn(text)) {
          if (!(name in spec.parameters)) problems.push(`  steps[${index}] (${step.id}).${field}: unknown parameter {{${name}}}`);
        }
      }
    }
  });
  if (problems.length > 0) throw invalidInput(`${file}: not a valid runbook:\n${problems.join('\n')}`);
}
