/** What the one-file bundle (`npm run bundle`, scripts/bundle.mjs) carries inside itself. */
export interface BundleFacts {
  /** package.json's version: there is no package.json next to the bundle. */
  version: string;
  /** The shipped runbooks, file name (e.g. `single-container.yaml`) → text. */
  runbooks: Record<string, string>;
}

// Replaced by its value when scripts/bundle.mjs bundles (esbuild `define`); never defined in dist/.
declare const RUNBOOK_BUNDLE: BundleFacts | undefined;

/** The bundle's facts when running as dist/runbook.mjs; undefined when running from dist/. */
export const bundled: BundleFacts | undefined = typeof RUNBOOK_BUNDLE === 'undefined' ? undefined : RUNBOOK_BUNDLE;
