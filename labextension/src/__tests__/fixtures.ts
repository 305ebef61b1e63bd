/**
 * Payloads shaped like the Python side's (memories_magics/display/render.py `result_json`
 * and the %%compare bundle), plus hostile model text.
 */
import { marked } from 'marked';

import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

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
    footer:
      'smollm2 · 31 in / 30 out tokens · 0.41 s · first token 0.05 s · $0 (local)',
    ...overrides
  };
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
        error: null
      }),
      resultPayload({
        text: '',
        model: 'claude-haiku',
        model_id: 'anthropic:claude-3-5-haiku-latest',
        provider: 'anthropic',
        finish_reason: null,
        complete: false,
        error: 'ANTHROPIC_API_KEY is not set: set it to use anthropic models'
      })
    ],
    aggregate: {
      method: 'consensus',
      winner: 1,
      score: 0.8333333,
      explanation: '2 of 2 answers agree most with answer 2.',
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

/** A Markdown parser like JupyterLab's (which is built on marked). */
export const markedParser: IRenderMime.IMarkdownParser = {
  render: async (source: string) => marked.parse(source) as string
};

/** A sanitizer that does nothing: harden() must be safe on its own. */
export const noSanitizer: IRenderMime.ISanitizer = { sanitize: (html: string) => html };

/** Every element and attribute that survived, for invariant checks. */
export function allElements(root: ParentNode): Element[] {
  return Array.from(root.querySelectorAll('*'));
}
