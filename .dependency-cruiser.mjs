// The layering of src/ (issue 27), checked by `npm run lint` with dependency-cruiser:
// no import cycle between files, and no folder importing one above it. Type-only imports count
// (tsPreCompilationDeps), and so do dynamic ones. CONTRIBUTING.md (Layers) states the same
// order; test/docs/layering.test.ts keeps the two equal and proves the check fails on a new
// cycle or an import against the order.

/**
 * The folders of src/, lowest first: each may import the ones before it, never one after it.
 * The files directly in src/ (errors.ts, env.ts, suggestion.ts, …) come before all of them and
 * import nothing but each other.
 */
export const layers = [
  'text',
  'fault',
  'trust',
  'plan',
  'journal',
  'store',
  'exec',
  'host',
  'runbook',
  'sandbox',
  'engine',
  'topology',
  'cni',
  'cli',
];

const any = (folders) => `^src/(${folders.join('|')})/`;

/** @type {import('dependency-cruiser').IForbiddenRuleType[]} */
export const rules = [
  {
    name: 'no-cycle',
    comment: 'An import cycle between files: one of them must not import the other (CONTRIBUTING.md, Layers).',
    severity: 'error',
    from: { path: '^src/' },
    to: { circular: true },
  },
  {
    name: 'root-files-import-no-folder',
    comment: 'The files directly in src/ are the lowest layer: they import only each other.',
    severity: 'error',
    from: { path: '^src/[^/]+$' },
    to: { path: '^src/[^/]+/' },
  },
  {
    name: 'folder-in-the-layers',
    comment: 'A folder of src/ that is not in the layers: add it to `layers` here and to CONTRIBUTING.md.',
    severity: 'error',
    from: { path: '^src/[^/]+/', pathNot: any(layers) },
    to: {},
  },
  {
    name: 'imported-folder-in-the-layers',
    comment: 'An import of a folder of src/ that is not in the layers: add it to `layers` here and to CONTRIBUTING.md.',
    severity: 'error',
    from: {},
    to: { path: '^src/[^/]+/', pathNot: any(layers) },
  },
  ...layers.slice(0, -1).map((folder, i) => ({
    name: `${folder}-imports-no-layer-above`,
    comment: `src/${folder}/ may import only ${['the files in src/', ...layers.slice(0, i)].join(', ')} (CONTRIBUTING.md, Layers).`,
    severity: 'error',
    from: { path: `^src/${folder}/` },
    to: { path: any(layers.slice(i + 1)) },
  })),
];

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: rules,
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.d\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
