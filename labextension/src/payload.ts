/**
 * The payloads of our MIME types (types generated from memories_magics/payload.schema.json),
 * read defensively: a notebook file can hold anything, so every field is checked and a
 * missing or mistyped one gets a neutral value. Nothing here re-derives what the kernel
 * wrote: the footer is the kernel's `footer_items`.
 */

import { isDiffOps } from './diff';
import type {
  Aggregate,
  ComparePayload,
  Diff,
  FooterItem,
  Parameters,
  Provenance,
  ResultPayload,
  SchemaValue,
  SentImage,
  ToolStep
} from './payload.types';
import { dict, int, list, num, oneOf, str } from './read';
import { readSent } from './thumbnails';
import {
  AGGREGATION_METHODS,
  AnswerFormat,
  COMPARE_MIME,
  DIFF_MODES,
  DiffMode,
  FINISH_REASONS,
  FOOTER_KINDS,
  FORMATS,
  FinishReason,
  FooterKind,
  AggregateMethod,
  PROVENANCE_FIELDS,
  RESULT_MIME
} from './vocabulary';

export { COMPARE_MIME, RESULT_MIME, FORMATS };
export type { AnswerFormat, FooterItem, SchemaValue, ToolStep };

/**
 * A result, or a %%compare column (whose `error` says why its model failed); `sent` is the
 * images shown above it ([] when none, and always in a column: the compare has them).
 */
export type IResult = Omit<ResultPayload, 'error' | 'schema' | 'sent'> & {
  error: string | null;
  schema: SchemaValue | null;
  sent: SentImage[];
};

export type IAggregate = Aggregate;
export type IDiff = Diff;

/** A compare payload with every column read as an `IResult`, its images once. */
export type ICompare = Omit<ComparePayload, 'results' | 'sent'> & {
  results: IResult[];
  sent: SentImage[];
};

function footerItem(value: unknown): FooterItem | null {
  const item = dict(value);
  const text = str(item.text);
  return text === null ? null : { kind: oneOf<FooterKind>(item.kind, FOOTER_KINDS) ?? 'note', text };
}

function toolStep(value: unknown): ToolStep | null {
  const step = dict(value);
  const name = str(step.name);
  return name === null
    ? null
    : {
        name,
        arguments: dict(step.arguments),
        result: str(step.result) ?? '',
        is_error: step.is_error === true
      };
}

function parameters(value: unknown): Parameters {
  const p = dict(value);
  return {
    system: str(p.system),
    temperature: num(p.temperature),
    top_p: num(p.top_p),
    max_tokens: int(p.max_tokens),
    seed: int(p.seed)
  };
}

/** Read a result payload (or a compare column). */
export function readResult(value: unknown): IResult {
  const data = dict(value);
  const usage = dict(data.usage);
  const model = str(data.model) ?? str(data.model_id) ?? 'model';
  let footer = list(data.footer_items, footerItem);
  if (!data.footer_items && str(data.footer)) {
    footer = [{ kind: 'note', text: str(data.footer)! }]; // saved before footer items
  }
  return {
    text: str(data.text) ?? '',
    truncated: data.truncated === true,
    full_length: int(data.full_length) ?? 0,
    format: oneOf<AnswerFormat>(data.format, FORMATS) ?? 'markdown',
    model,
    model_id: str(data.model_id) ?? model,
    provider: str(data.provider) ?? '',
    parameters: parameters(data.parameters),
    usage: { input_tokens: int(usage.input_tokens), output_tokens: int(usage.output_tokens) },
    cost_usd: num(data.cost_usd),
    latency_s: num(data.latency_s),
    first_token_s: num(data.first_token_s),
    finish_reason: oneOf<FinishReason>(data.finish_reason, FINISH_REASONS),
    cached: data.cached === true,
    interrupted: data.interrupted === true,
    complete: data.complete !== false,
    cache_key: str(data.cache_key),
    note: str(data.note),
    footer_items: footer,
    tools_replayed: data.tools_replayed === true,
    tool_steps: list(data.tool_steps, toolStep),
    provenance: provenance(data.provenance),
    schema: schemaValue(data.schema),
    sent: readSent(data.sent),
    error: str(data.error)
  };
}

/** A --schema answer's value or errors (null without --schema, or when unreadable). */
function schemaValue(value: unknown): SchemaValue | null {
  const data = dict(value);
  const name = str(data.name);
  if (name === null) {
    return null;
  }
  const errors = list(data.errors, str);
  const ok = data.ok === true && errors.length === 0;
  return { name, ok, value: ok ? data.value ?? null : null, cut: data.cut === true, errors };
}

/** The provenance's text fields (saved before provenance existed: none). */
function provenance(value: unknown): Provenance {
  const out: Provenance = {};
  for (const [key, text] of Object.entries(dict(value))) {
    if (PROVENANCE_FIELDS.includes(key) && typeof text === 'string') {
      out[key as keyof Provenance] = text;
    }
  }
  return out;
}

function readAggregate(value: unknown, columns: number): IAggregate | null {
  if (!value || typeof value !== 'object') {
    return null;
  }
  const agg = dict(value);
  const winner = int(agg.winner);
  const method = oneOf<AggregateMethod>(agg.method, AGGREGATION_METHODS) ?? 'consensus';
  return {
    method,
    winner: winner !== null && winner >= 0 && winner < columns ? winner : null,
    score: num(agg.score),
    explanation: str(agg.explanation) ?? '',
    line: str(agg.line) ?? method,
    text: str(agg.text) ?? ''
  };
}

function readDiff(value: unknown, columns: number): IDiff | null {
  const d = dict(value);
  const mode = oneOf<DiffMode>(d.mode, DIFF_MODES);
  const [a, b] = [int(d.a), int(d.b)];
  const inRange = (i: number | null): i is number => i !== null && i >= 0 && i < columns;
  return mode && inRange(a) && inRange(b) && isDiffOps(d.ops) ? { mode, a, b, ops: d.ops } : null;
}

/** Read a compare payload. */
export function readCompare(value: unknown): ICompare {
  const data = dict(value);
  // A column's images are the comparison's (shown once, above the columns).
  const results = Array.isArray(data.results)
    ? data.results.map(column => ({ ...readResult(column), sent: [] }))
    : [];
  return {
    prompt: str(data.prompt) ?? '',
    sent: readSent(data.sent),
    results,
    aggregate: readAggregate(data.aggregate, results.length),
    diff: readDiff(data.diff, results.length)
  };
}

/** A tooltip with what the footer leaves out: the model id, parameters, cache key. */
export function detailsTitle(result: IResult): string {
  const p = result.parameters;
  const lines = [
    result.footer_items.map(item => item.text).join(' · '),
    `model: ${result.model_id}${result.provider ? ` (${result.provider})` : ''}`
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
