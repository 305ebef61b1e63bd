/**
 * What the commands insert and run, kept free of JupyterLab imports so it can be unit-tested.
 * The cache modes and aggregation methods are the kernel's (vocabulary.json).
 */

import { AGGREGATION_METHODS, AggregateMethod, CACHE_MODES } from './vocabulary';

export { CACHE_MODES };
export type CacheMode = string;
/** --aggregate choices; '' leaves the magic's default. */
export const AGGREGATES: (AggregateMethod | '')[] = ['', ...AGGREGATION_METHODS];
export type Aggregate = AggregateMethod | '';

export const CommandIDs = {
  insertLlm: 'memories-magics:insert-llm-cell',
  insertCompare: 'memories-magics:insert-compare-cell',
  clearCache: 'memories-magics:clear-cache',
  toggleReplay: 'memories-magics:toggle-replay'
};

/** The extension's settings (see schema/plugin.json). */
export interface ISettings {
  /** Model for inserted %%llm cells; empty: the kernel's default (`%llm use`, else smollm2). */
  defaultModel: string;
  /** Models for inserted %%compare cells. */
  compareModels: string[];
  /** --aggregate for inserted %%compare cells; empty: the magic's default (consensus). */
  compareAggregate: Aggregate;
  /** --cache for inserted cells; "use" (the kernel's default) adds nothing. */
  cacheMode: CacheMode;
}

export const DEFAULT_SETTINGS: ISettings = {
  defaultModel: '',
  /** Both run on this machine with no key; add hosted models in the settings. */
  compareModels: ['smollm2', 'gemma'],
  compareAggregate: '',
  cacheMode: 'use'
};

/** A model id as one shell-like word: no whitespace, no newlines, nothing after them. */
export function modelWord(value: unknown): string {
  return typeof value === 'string' ? (value.trim().split(/\s+/)[0] ?? '') : '';
}

/** Settings from the registry's composite value, with bad values replaced by defaults. */
export function readSettings(composite: Record<string, unknown> | null | undefined): ISettings {
  const c = composite ?? {};
  const models = Array.isArray(c.compareModels)
    ? c.compareModels.map(modelWord).filter(Boolean)
    : DEFAULT_SETTINGS.compareModels;
  return {
    defaultModel: modelWord(c.defaultModel),
    compareModels: models.length ? models : DEFAULT_SETTINGS.compareModels,
    compareAggregate: (AGGREGATES as unknown[]).includes(c.compareAggregate)
      ? (c.compareAggregate as Aggregate)
      : DEFAULT_SETTINGS.compareAggregate,
    cacheMode: (CACHE_MODES as unknown[]).includes(c.cacheMode)
      ? (c.cacheMode as CacheMode)
      : DEFAULT_SETTINGS.cacheMode
  };
}

function cacheOption(settings: ISettings): string {
  return settings.cacheMode === 'use' ? '' : ` --cache ${settings.cacheMode}`;
}

/** The source of a new `%%llm` cell (the cursor goes on its second line). */
export function llmCellSource(settings: ISettings): string {
  const model = settings.defaultModel ? ` ${settings.defaultModel}` : '';
  return `%%llm${model}${cacheOption(settings)}\n`;
}

/** The source of a new `%%compare` cell. */
export function compareCellSource(settings: ISettings): string {
  const aggregate = settings.compareAggregate ? ` --aggregate ${settings.compareAggregate}` : '';
  return `%%compare ${settings.compareModels.join(' ')}${aggregate}${cacheOption(settings)}\n`;
}

export const LOAD_EXT = '%load_ext memories_magics';

/** Whether some cell of a notebook already loads the extension. */
export function loadsExtension(sources: string[]): boolean {
  return sources.some(s => /(^|\n)\s*%(re)?load_ext\s+memories_magics\b/.test(s));
}

/**
 * Python that runs one `%llm` line magic in a kernel, loading the extension first if needed
 * (quietly: `%load_ext` would print "already loaded"). The trailing `;` keeps the value out of
 * the output.
 */
export function kernelCode(llmLine: string): string {
  return [
    "get_ipython().extension_manager.load_extension('memories_magics')",
    `get_ipython().run_line_magic('llm', ${JSON.stringify(llmLine)});`
  ].join('\n');
}

export const CLEAR_CACHE_CODE = kernelCode('cache clear');

export function cacheModeCode(mode: CacheMode): string {
  return kernelCode(`cache mode ${mode}`);
}

/**
 * A Python expression, evaluated as a silent `user_expressions` request, that is the kernel's
 * cache mode, or None while memories_magics has not run in it (nothing is imported for it).
 */
export const CACHE_MODE_EXPRESSION =
  "(lambda m: m and m.default_engine().cache_mode)" +
  "(__import__('sys').modules.get('memories_magics.engine'))";

/**
 * The cache mode in a `user_expressions` result for {@link CACHE_MODE_EXPRESSION} (its
 * text/plain is the repr of a string), or null when unknown (an error, None, anything else).
 */
export function readCacheMode(value: unknown): CacheMode | null {
  const result = value as { status?: unknown; data?: Record<string, unknown> } | null;
  if (!result || result.status !== 'ok') {
    return null;
  }
  const shown = result.data?.['text/plain'];
  const mode = typeof shown === 'string' ? /^'([a-z_]+)'$/.exec(shown.trim())?.[1] : undefined;
  return mode !== undefined && (CACHE_MODES as string[]).includes(mode) ? mode : null;
}
