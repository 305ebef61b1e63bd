/**
 * The payloads of our MIME types, read defensively (a notebook file can hold anything), and the
 * small text helpers shared by the renderers.
 */

import { DiffMode, DiffOp, DIFF_MODES, isDiffOps } from './diff';

export const RESULT_MIME = 'application/vnd.memories-magics.result+json';
export const COMPARE_MIME = 'application/vnd.memories-magics.compare+json';

export type AnswerFormat = 'markdown' | 'text' | 'code' | 'json' | 'html';
export const FORMATS: AnswerFormat[] = ['markdown', 'text', 'code', 'json', 'html'];

export interface IParameters {
  system: string | null;
  temperature: number | null;
  top_p: number | null;
  max_tokens: number | null;
  seed: number | null;
}

/** `application/vnd.memories-magics.result+json` (plus `error` inside a compare payload). */
export interface IResult {
  text: string;
  format: AnswerFormat;
  model: string;
  model_id: string | null;
  provider: string | null;
  parameters: IParameters;
  usage: { input_tokens: number | null; output_tokens: number | null };
  cost_usd: number | null;
  latency_s: number | null;
  first_token_s: number | null;
  finish_reason: string | null;
  cached: boolean;
  interrupted: boolean;
  complete: boolean;
  cache_key: string | null;
  note: string | null;
  footer: string | null;
  error: string | null;
  /** The kernel cut a very long answer for display (`truncated` in the payload). */
  cut: boolean;
  /** The answer's full length in characters, when it was cut. */
  full_length: number | null;
}

export type AggregateMethod = 'consensus' | 'voting' | 'best_confidence';

export interface IAggregate {
  method: string;
  winner: number | null;
  score: number | null;
  explanation: string;
  text: string;
}

export interface IDiff {
  mode: DiffMode;
  a: number;
  b: number;
  ops: DiffOp[];
}

/** `application/vnd.memories-magics.compare+json`. */
export interface ICompare {
  prompt: string;
  results: IResult[];
  aggregate: IAggregate | null;
  diff: IDiff | null;
}

type Dict = Record<string, unknown>;

function dict(value: unknown): Dict {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Dict)
    : {};
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function int(value: unknown): number | null {
  const n = num(value);
  return n !== null && Number.isInteger(n) ? n : null;
}

/** Read a result payload; missing or mistyped fields get neutral values. */
export function readResult(value: unknown): IResult {
  const data = dict(value);
  const parameters = dict(data.parameters);
  const usage = dict(data.usage);
  const format = str(data.format) as AnswerFormat | null;
  return {
    text: str(data.text) ?? '',
    format: format && FORMATS.includes(format) ? format : 'markdown',
    model: str(data.model) ?? str(data.model_id) ?? 'model',
    model_id: str(data.model_id),
    provider: str(data.provider),
    parameters: {
      system: str(parameters.system),
      temperature: num(parameters.temperature),
      top_p: num(parameters.top_p),
      max_tokens: int(parameters.max_tokens),
      seed: int(parameters.seed)
    },
    usage: { input_tokens: int(usage.input_tokens), output_tokens: int(usage.output_tokens) },
    cost_usd: num(data.cost_usd),
    latency_s: num(data.latency_s),
    first_token_s: num(data.first_token_s),
    finish_reason: str(data.finish_reason),
    cached: data.cached === true,
    interrupted: data.interrupted === true,
    complete: data.complete !== false,
    cache_key: str(data.cache_key),
    note: str(data.note),
    footer: str(data.footer),
    error: str(data.error),
    cut: data.truncated === true,
    full_length: int(data.full_length)
  };
}

/** Read a compare payload. */
export function readCompare(value: unknown): ICompare {
  const data = dict(value);
  const results = Array.isArray(data.results) ? data.results.map(readResult) : [];
  let aggregate: IAggregate | null = null;
  if (data.aggregate && typeof data.aggregate === 'object') {
    const agg = dict(data.aggregate);
    const winner = int(agg.winner);
    aggregate = {
      method: str(agg.method) ?? 'aggregate',
      winner: winner !== null && winner >= 0 && winner < results.length ? winner : null,
      score: num(agg.score),
      explanation: str(agg.explanation) ?? '',
      text: str(agg.text) ?? ''
    };
  }
  let diff: IDiff | null = null;
  if (data.diff && typeof data.diff === 'object') {
    const d = dict(data.diff);
    const mode = str(d.mode) as DiffMode | null;
    const a = int(d.a);
    const b = int(d.b);
    if (
      mode &&
      DIFF_MODES.includes(mode) &&
      a !== null &&
      b !== null &&
      a >= 0 &&
      b >= 0 &&
      a < results.length &&
      b < results.length &&
      isDiffOps(d.ops)
    ) {
      diff = { mode, a, b, ops: d.ops };
    }
  }
  return { prompt: str(data.prompt) ?? '', results, aggregate, diff };
}

/** Seconds with two decimals ("0.41 s"), or null. */
export function seconds(value: number | null): string | null {
  return value === null ? null : `${value.toFixed(2)} s`;
}

/** "$0 (local)", "~$0.0012", or null when unknown. */
export function costLabel(result: IResult): string | null {
  if (result.provider === 'local') {
    return '$0 (local)';
  }
  const cost = result.cost_usd;
  if (cost === null) {
    return null;
  }
  if (cost === 0) {
    return '$0';
  }
  return cost < 0.0001 ? '<$0.0001 est.' : `~$${cost.toFixed(4)} est.`;
}

export function tokensLabel(result: IResult): string | null {
  const { input_tokens: i, output_tokens: o } = result.usage;
  if (i === null && o === null) {
    return null;
  }
  return `${i ?? '?'} in / ${o ?? '?'} out tokens`;
}

export type WarningKind = 'interrupted' | 'truncated' | 'max-tokens';

/** The warning a result deserves, if any. */
export function warningOf(result: IResult): { kind: WarningKind; text: string } | null {
  if (result.error) {
    return null;
  }
  if (result.interrupted) {
    return { kind: 'interrupted', text: 'interrupted: partial answer, not cached' };
  }
  if (result.finish_reason === null || !result.complete) {
    return { kind: 'truncated', text: 'truncated: the stream ended early, not cached' };
  }
  if (['length', 'max_tokens', 'MAX_TOKENS'].includes(result.finish_reason)) {
    return { kind: 'max-tokens', text: 'stopped at --max-tokens' };
  }
  return null;
}

/** "showing 100,000 of 250,000 characters" when the kernel cut the answer for display. */
export function cutLabel(result: IResult): string | null {
  if (!result.cut) {
    return null;
  }
  const shown = Array.from(result.text).length.toLocaleString('en-US');
  const full = result.full_length === null ? '?' : result.full_length.toLocaleString('en-US');
  return `showing ${shown} of ${full} characters (the full text is in the result: -o VAR)`;
}

/** A tooltip with everything we know about a call. */
export function detailsTitle(result: IResult): string {
  const p = result.parameters;
  const lines = [
    result.footer ?? '',
    `model: ${result.model_id ?? result.model}${result.provider ? ` (${result.provider})` : ''}`
  ];
  const params = [
    p.temperature !== null ? `temperature ${p.temperature}` : '',
    p.top_p !== null ? `top_p ${p.top_p}` : '',
    p.max_tokens !== null ? `max tokens ${p.max_tokens}` : '',
    p.seed !== null ? `seed ${p.seed}` : ''
  ].filter(Boolean);
  if (params.length) {
    lines.push(params.join(', '));
  }
  if (p.system) {
    lines.push(`system: ${p.system.length > 200 ? p.system.slice(0, 200) + '…' : p.system}`);
  }
  if (result.finish_reason) {
    lines.push(`finish reason: ${result.finish_reason}`);
  }
  if (result.cache_key) {
    lines.push(`cache key: ${result.cache_key}`);
  }
  return lines.filter(Boolean).join('\n');
}

const FENCE = /^(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n([\s\S]*?)^\1[ \t]*$/m;

/** The first fenced code block of an answer as [code, language], else the whole text. */
export function extractCode(text: string): [string, string] {
  const match = FENCE.exec(text);
  if (!match) {
    return [text.trim(), ''];
  }
  return [match[3].replace(/\n+$/, ''), match[2]];
}

/** Parse a JSON answer (bare or fenced); undefined when it is not JSON. */
export function parseJsonAnswer(text: string): unknown {
  for (const candidate of [text, extractCode(text)[0]]) {
    try {
      return JSON.parse(candidate);
    } catch {
      // try the next form
    }
  }
  return undefined;
}
