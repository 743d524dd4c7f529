/**
 * A step id as the engine uses it (after rendering). Apart from schema.ts so that rendering a
 * plan does not load the schema library (the CNI plugin renders one per call: docs/performance.md).
 */
export const stepIdPattern = /^[a-z0-9][a-z0-9-]*$/;
