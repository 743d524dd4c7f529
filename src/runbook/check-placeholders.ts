import { invalidInput } from '../errors.js';
import { nearestSpellings } from './spelling.js';
import type { LoopIn, LoopSpec, ParamSpec, ParamType, ResolvedRunbook, StepSpec } from './schema.js';
import {
  addressCalls,
  addressHelpers,
  hasMalformedPlaceholder,
  referencesIn,
  stringsIn,
  unknownPart,
  type Reference,
} from './template.js';

/**
 * Every {{placeholder}} must name something in scope where it is used, before anything runs:
 * a parameter, a loop variable inside its loop, a value the same step captured (in its `do` and
 * `undo`), or a value an earlier step exports (issue 28). A name out of scope is reported with
 * why it is not in scope there (a capture of another step, an export of a later step, a loop
 * variable outside its loop), and the parts after a name must fit its type (`.network` of an
 * ipv4-cidr, `.mac` of a record with a mac field).
 */

/** What a name stands for where it is in scope. */
interface Binding {
  kind: 'parameter' | 'loop variable' | 'loop index' | 'capture' | 'export';
  /** The value's type when known: a parameter's, a field's, a range's (integer). */
  type?: ParamType | undefined;
  /** For a record (a loop over a list of records): its fields and their types (when known). */
  fields?: Readonly<Record<string, ParamType | undefined>> | undefined;
}

type Scope = ReadonlyMap<string, Binding>;

/** Where a name is declared, to say why it is not in scope somewhere else. */
interface Declaration {
  kind: 'loop variable' | 'capture' | 'export';
  /** The step (capture, export) or the loop (`steps[1].foreach`) that declares it. */
  where: string;
  /** For an export: it is declared inside a loop (known only to the later steps of a pass). */
  inLoop?: boolean;
}

/** The step fields in which only parameters and loop variables are known (rendered with the plan). */
const staticFields = new Set(['id', 'title', 'why', 'only_if_created_by']);

export function checkPlaceholders(spec: ResolvedRunbook, file: string): void {
  const problems: string[] = [];
  const declared = declarations(spec);
  const parameters: Scope = new Map(
    Object.entries(spec.parameters).map(([name, p]) => [name, { kind: 'parameter', ...typeOfParameter(p) }]),
  );

  const check = (where: string, value: unknown, scope: Scope, context: CheckContext = {}) => {
    for (const text of stringsIn(value)) {
      if (hasMalformedPlaceholder(text)) problems.push(`  ${where}: malformed placeholder in "${text}"`);
      for (const ref of referencesIn(text)) {
        const binding = scope.get(ref.name);
        if (binding === undefined) problems.push(`  ${where}: ${whyUnknown(ref.name, scope, declared, context)}`);
        else {
          const problem = checkParts(ref, binding);
          if (problem !== undefined) problems.push(`  ${where}: ${problem}`);
        }
      }
    }
  };

  (spec.constraints ?? []).forEach((constraint, index) => {
    const where = `constraints[${index}]`;
    if (constraint.foreach === undefined) return check(where, constraint, parameters);
    const inner = checkForeach(`${where}.foreach`, constraint.foreach, parameters, spec.parameters);
    check(where, { ...constraint, foreach: undefined }, inner);
  });

  /** Checks a loop's own fields; returns the scope of its body. */
  function checkForeach(
    where: string,
    foreach: LoopSpec['foreach'],
    scope: Scope,
    params: Readonly<Record<string, ParamSpec>>,
    exports: ReadonlyMap<string, Binding> = new Map(),
  ): Scope {
    check(
      where,
      [foreach.from, foreach.to, foreach.in].filter((v) => v !== undefined),
      scope,
    );
    const inner = new Map(scope);
    const names: Array<[string, Binding]> = [[foreach.var, { kind: 'loop variable', ...typeOfLoop(foreach, params) }]];
    if (foreach.index !== undefined) names.push([foreach.index, { kind: 'loop index', type: 'integer' }]);
    names.forEach(([name, binding], i) => {
      const at = `${where}.${i === 0 ? 'var' : 'index'}`;
      const before = scope.get(name);
      if (before?.kind === 'parameter') problems.push(`  ${at}: "${name}" is already a parameter`);
      else if (before !== undefined) problems.push(`  ${at}: "${name}" is already an outer loop's variable`);
      else if (exports.has(name)) problems.push(`  ${at}: "${name}" is already a value an earlier step exports`);
      inner.set(name, binding);
    });
    if (foreach.index !== undefined && foreach.index === foreach.var)
      problems.push(`  ${where}.index: "${foreach.index}" is also the loop variable`);
    return inner;
  }

  const checkStep = (step: StepSpec, where: string, scope: Scope, exports: Map<string, Binding>) => {
    const captures = Object.keys(step.capture);
    const ownExports = Object.keys(step.export ?? {});
    for (const [name, field] of [...captures.map((n) => [n, 'capture']), ...ownExports.map((n) => [n, 'export'])]) {
      const taken = scope.get(name as string) ?? exports.get(name as string);
      if (taken !== undefined)
        problems.push(`  ${where}.${field}.${name}: already the name of ${describeBinding(taken)}`);
    }
    for (const name of ownExports)
      if (captures.includes(name))
        problems.push(`  ${where}.export.${name}: already the name of a capture of this step`);
    const withExports = new Map([...scope, ...exports]);
    const capture: Binding = { kind: 'capture' };
    for (const [field, value] of Object.entries(step)) {
      const at = `${where} (${step.id}).${field}`;
      if (staticFields.has(field) || (field === 'undo' && !Array.isArray(value))) {
        check(at, value, scope, { planTime: true, step: step.id, field });
        continue;
      }
      if (field === 'export') {
        // In order: an export may use the ones before it (a pid, then that pid's start time).
        const own = new Map(withExports);
        for (const [name, command] of Object.entries(step.export ?? {})) {
          check(`${at}.${name}`, command, own, { step: step.id, field });
          own.set(name, { kind: 'export' });
        }
        continue;
      }
      const inScope = new Map(withExports);
      // Captured values are read just before `do`: do and undo may use them. Exported ones are
      // read once the step holds, for the steps after it.
      if (field === 'do' || field === 'undo') for (const name of captures) inScope.set(name, capture);
      check(at, value, inScope, { step: step.id, field });
    }
    for (const name of ownExports) exports.set(name, { kind: 'export' });
  };

  const checkItem = (item: StepSpec | LoopSpec, where: string, scope: Scope, exports: Map<string, Binding>) => {
    if (!('foreach' in item)) return checkStep(item, where, scope, exports);
    const inner = checkForeach(`${where}.foreach`, item.foreach, scope, spec.parameters, exports);
    // A value exported inside the loop is the one of the same pass: known to the later steps
    // of the loop, not after it.
    const passExports = new Map(exports);
    item.steps.forEach((step, i) => checkItem(step, `${where}.steps[${i}]`, inner, passExports));
  };
  const exports = new Map<string, Binding>();
  spec.steps.forEach((item, index) => checkItem(item, `steps[${index}]`, parameters, exports));
  if (problems.length > 0) throw invalidInput(`${file}: not a valid runbook:\n${problems.join('\n')}`);
}

interface CheckContext {
  /** A field rendered with the plan (title, why, id): no value known only at run time. */
  planTime?: boolean;
  step?: string;
  field?: string;
}

/** What the type of a parameter tells about its value and parts. */
function typeOfParameter(spec: ParamSpec): Pick<Binding, 'type' | 'fields'> {
  if (spec.type === 'list') return { type: 'list' };
  return { type: spec.type };
}

/** What a loop's variable is: an integer (a range), an item of a list, or a record. */
function typeOfLoop(
  foreach: LoopSpec['foreach'],
  params: Readonly<Record<string, ParamSpec>>,
): Pick<Binding, 'type' | 'fields'> {
  const items: LoopIn | undefined = foreach.in;
  if (items === undefined) return { type: 'integer' };
  const listed = (text: string): Pick<Binding, 'type' | 'fields'> => {
    const name = /^\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}$/.exec(text)?.[1];
    const spec = name === undefined ? undefined : params[name];
    if (spec?.of === 'record')
      return { fields: Object.fromEntries(Object.entries(spec.fields ?? {}).map(([f, s]) => [f, s.type])) };
    return spec?.of === undefined ? {} : { type: spec.of };
  };
  if (typeof items === 'string') return listed(items);
  if (Array.isArray(items)) {
    const record = items.find((item) => typeof item === 'object');
    if (record === undefined) return {};
    return { fields: Object.fromEntries(Object.keys(record).map((f) => [f, undefined])) };
  }
  return {
    fields: Object.fromEntries(
      Object.entries(items).map(([field, list]) => [field, typeof list === 'string' ? listed(list).type : undefined]),
    ),
  };
}

/**
 * Whether the parts after a name fit what it is: a record's field first, then address helpers
 * on a value of a type that has them. Types known only at run time are checked when rendered.
 */
function checkParts(ref: Reference, binding: Binding): string | undefined {
  let parts = ref.parts;
  let type = binding.type;
  let what = ref.name;
  if (binding.fields !== undefined) {
    const [field, ...rest] = parts;
    if (field === undefined) return undefined; // the record as JSON
    if (!Object.hasOwn(binding.fields, field))
      return `{{${ref.name}.${field}}}: ${ref.name} has no field ${field.replace('()', '')} (its fields: ${Object.keys(binding.fields).join(', ')})`;
    type = binding.fields[field];
    what = `${ref.name}.${field}`;
    parts = rest;
  }
  for (const part of parts) {
    const call = part.endsWith('()');
    const name = call ? part.slice(0, -2) : part;
    const known = call ? (addressCalls as readonly string[]) : (addressHelpers as readonly string[]);
    if (!known.includes(name)) return `{{${[ref.name, ...ref.parts].join('.')}}}: ${unknownPart(what, name, call)}`;
    const problem = type === undefined ? undefined : helperProblem(name, type, what);
    if (problem !== undefined) return `{{${[ref.name, ...ref.parts].join('.')}}}: ${problem}`;
    type = resultType(name, type);
    what = `${what}.${part}`;
  }
  return undefined;
}

const networkTypes: ReadonlySet<string> = new Set(['ipv4-cidr', 'ipv4-network']);

function helperProblem(helper: string, type: ParamType, what: string): string | undefined {
  const a = /^[aeiou]/.test(type) ? 'an' : 'a';
  if (helper === 'octet')
    return type === 'ipv4' || networkTypes.has(type) ? undefined : `${what} is ${a} ${type}, which has no octets`;
  if ((helper === 'address' || helper === 'prefixlen') && type === 'ipv4') return undefined;
  return networkTypes.has(type)
    ? undefined
    : `${what} is ${a} ${type}: only an ipv4-cidr or ipv4-network has .${helper}${addressCalls.includes(helper as never) ? '()' : ''}`;
}

function resultType(helper: string, type: ParamType | undefined): ParamType | undefined {
  if (helper === 'prefixlen' || helper === 'octet') return 'integer';
  if (helper === 'subnet') return 'ipv4-network';
  return type === undefined ? undefined : 'ipv4';
}

function describeBinding(binding: Binding): string {
  return binding.kind === 'parameter' || binding.kind === 'loop variable' || binding.kind === 'loop index'
    ? 'a parameter or loop variable'
    : `an exported value of an earlier step`;
}

/** Every loop variable, capture and export of the runbook, by name, with where it is declared. */
function declarations(spec: ResolvedRunbook): Map<string, Declaration[]> {
  const found = new Map<string, Declaration[]>();
  const add = (name: string, declaration: Declaration) => found.set(name, [...(found.get(name) ?? []), declaration]);
  const walk = (item: StepSpec | LoopSpec, where: string, inLoop: boolean) => {
    if ('foreach' in item) {
      add(item.foreach.var, { kind: 'loop variable', where: `${where}.foreach` });
      if (item.foreach.index !== undefined)
        add(item.foreach.index, { kind: 'loop variable', where: `${where}.foreach` });
      item.steps.forEach((s, i) => walk(s, `${where}.steps[${i}]`, true));
      return;
    }
    for (const name of Object.keys(item.capture)) add(name, { kind: 'capture', where: item.id });
    for (const name of Object.keys(item.export ?? {})) add(name, { kind: 'export', where: item.id, inLoop });
  };
  spec.steps.forEach((item, i) => walk(item, `steps[${i}]`, false));
  return found;
}

/**
 * Why a name is not known where it is used: the message says what it is elsewhere (so the
 * author learns the rule), or lists what is known here, nearest spelling first.
 */
function whyUnknown(
  name: string,
  scope: Scope,
  declared: ReadonlyMap<string, Declaration[]>,
  context: CheckContext,
): string {
  const unknown = `unknown name {{${name}}}`;
  const here = context.step;
  const declarations = declared.get(name) ?? [];
  const capture = declarations.find((d) => d.kind === 'capture');
  const exported = declarations.find((d) => d.kind === 'export');
  if (exported !== undefined && context.planTime)
    return `${unknown}: it is exported by step ${exported.where} and known only when the run gets there; use it in commands, checks and probes, not in the ${context.field ?? 'title'}`;
  if (exported !== undefined && exported.where === here)
    return `${unknown}: step ${here} exports it once the step holds, so only the steps after it can use it`;
  if (capture !== undefined && capture.where === here)
    return `${unknown}: step ${here} captures it just before its do, so only its do and undo can use it`;
  if (exported !== undefined && exported.inLoop === true)
    return `${unknown}: step ${exported.where} exports it inside a loop, so only the later steps of the same loop can use it (each pass has its own)`;
  if (exported !== undefined)
    return `${unknown}: step ${exported.where} exports it, but comes later; a value is known to the steps after the one that exports it`;
  if (capture !== undefined)
    return `${unknown}: step ${capture.where} captures it for its own do and undo; to hand it to later steps, declare it under that step's "export:" instead`;
  const loop = declarations.find((d) => d.kind === 'loop variable');
  if (loop !== undefined)
    return `${unknown}: it is the variable of the loop at ${loop.where}, and means nothing outside that loop`;
  const known = [...scope.keys()];
  if (known.length === 0) return `${unknown} (no name is known here: the runbook declares no parameters)`;
  const near = nearestSpellings(name, known).slice(0, 2);
  const suggestion = near.length > 0 ? `did you mean ${near.map((k) => `{{${k}}}`).join(' or ')}? ` : '';
  return `${unknown} (${suggestion}known here: ${known.join(', ')})`;
}
