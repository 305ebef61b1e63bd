/**
 * Payloads shaped like the Python side's (memories_magics/display/render.py `result_json`
 * and the %%compare bundle; both valid against memories_magics/payload.schema.json, which
 * vocabulary.spec.ts checks), plus hostile model text.
 */
import Ajv from 'ajv';

import schema from '../../../memories_magics/payload.schema.json';

export const HOSTILE =
  '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>' +
  '[x](javascript:window.__pwned=3)';

export function resultPayload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    text: 'Hello **world**.',
    format: 'markdown',
    model: 'smollm2',
    model_id: 'local:smollm2',
    provider: 'local',
    parameters: { system: null, temperature: null, top_p: null, max_tokens: 30, seed: 1 },
    usage: { input_tokens: 31, output_tokens: 30 },
    cost_usd: 0.0,
    latency_s: 0.4123,
    first_token_s: 0.0521,
    finish_reason: 'stop',
    cached: false,
    interrupted: false,
    complete: true,
    cache_key: 'ab12cd34',
    note: null,
    footer_items: [
      { kind: 'model', text: 'smollm2' },
      { kind: 'tokens', text: '31 in / 30 out tokens' },
      { kind: 'latency', text: '0.41 s' },
      { kind: 'first_token', text: 'first token 0.05 s' },
      { kind: 'cost', text: '$0 (local)' }
    ],
    truncated: false,
    full_length: 16,
    tools_replayed: false,
    tool_steps: [],
    provenance: { sdk: 'llama-cpp-python 0.3.36', recorded_at: '2026-12-02T12:00:00Z' },
    ...overrides
  };
}

/** A footer item list with `extra` items after the usual ones. */
export function footerWith(...extra: { kind: string; text: string }[]): unknown[] {
  return [...(resultPayload().footer_items as unknown[]), ...extra];
}

export function comparePayload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    prompt: 'Name a colour.',
    results: [
      resultPayload({ text: 'The sky is blue today.', error: null }),
      resultPayload({
        text: 'The sky is grey today.',
        model: 'gpt-4o-mini',
        model_id: 'openai:gpt-4o-mini',
        provider: 'openai',
        cost_usd: 0.000012,
        cached: true,
        footer_items: [
          { kind: 'model', text: 'gpt-4o-mini' },
          { kind: 'cost', text: '<$0.0001 est.' },
          { kind: 'cached', text: 'cached' }
        ],
        error: null
      }),
      {
        text: '',
        model: 'claude-haiku',
        model_id: 'anthropic:claude-3-5-haiku-latest',
        footer_items: [
          { kind: 'model', text: 'claude-haiku' },
          { kind: 'error', text: 'error: ANTHROPIC_API_KEY is not set' }
        ],
        error: 'ANTHROPIC_API_KEY is not set: set it to use anthropic models'
      }
    ],
    aggregate: {
      method: 'consensus',
      winner: 1,
      score: 0.8333333,
      explanation: '2 of 2 answers agree most with answer 2.',
      line: 'consensus: gpt-4o-mini (score 0.83): 2 of 2 answers agree most with answer 2.',
      text: 'The sky is grey today.'
    },
    diff: {
      mode: 'word',
      a: 0,
      b: 1,
      ops: [
        ['equal', 'The sky is '],
        ['delete', 'blue'],
        ['insert', 'grey'],
        ['equal', ' today.']
      ]
    },
    ...overrides
  };
}

const ajv = new Ajv({ strictTuples: false }).addKeyword('tsType').addSchema(schema);

/** The schema's errors for a payload ('' when it is valid). */
export function schemaErrors(definition: 'result' | 'compare', payload: unknown): string {
  const validate = ajv.getSchema(`${schema.$id}#/definitions/${definition}`)!;
  return validate(payload) ? '' : ajv.errorsText(validate.errors);
}

/** Every element and attribute that survived, for invariant checks. */
export function allElements(root: ParentNode): Element[] {
  return Array.from(root.querySelectorAll('*'));
}
