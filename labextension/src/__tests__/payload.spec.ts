import { describe, expect, it } from 'vitest';

import {
  costLabel,
  cutLabel,
  detailsTitle,
  extractCode,
  parseJsonAnswer,
  readCompare,
  readResult,
  tokensLabel,
  warningOf
} from '../payload';
import { comparePayload, resultPayload } from './fixtures';

describe('readResult', () => {
  it('reads the Python payload', () => {
    const r = readResult(resultPayload());
    expect(r.model).toBe('smollm2');
    expect(r.provider).toBe('local');
    expect(r.parameters.seed).toBe(1);
    expect(r.usage).toEqual({ input_tokens: 31, output_tokens: 30 });
    expect(r.complete).toBe(true);
    expect(r.error).toBeNull();
  });

  it('survives garbage', () => {
    for (const value of [null, undefined, 42, 'x', [], { text: 5, format: 'evil', usage: 'x' }]) {
      const r = readResult(value);
      expect(r.text).toBe('');
      expect(r.format).toBe('markdown');
      expect(r.usage).toEqual({ input_tokens: null, output_tokens: null });
    }
  });
});

describe('readCompare', () => {
  it('reads the Python payload', () => {
    const c = readCompare(comparePayload());
    expect(c.results).toHaveLength(3);
    expect(c.results[2].error).toContain('ANTHROPIC_API_KEY');
    expect(c.aggregate!.winner).toBe(1);
    expect(c.diff!.ops).toHaveLength(4);
  });

  it('drops an out-of-range winner and a malformed diff', () => {
    const c = readCompare(
      comparePayload({
        aggregate: { method: 'voting', winner: 7, score: null, explanation: '', text: '' },
        diff: { mode: 'word', a: 0, b: 9, ops: [] }
      })
    );
    expect(c.aggregate!.winner).toBeNull();
    expect(c.diff).toBeNull();
    expect(readCompare(comparePayload({ diff: { mode: 'x', a: 0, b: 1, ops: [] } })).diff).toBeNull();
    expect(readCompare(comparePayload({ aggregate: null })).aggregate).toBeNull();
    expect(readCompare(null).results).toEqual([]);
  });
});

describe('footer pieces', () => {
  it('labels cost and tokens', () => {
    expect(costLabel(readResult(resultPayload()))).toBe('$0 (local)');
    expect(costLabel(readResult(resultPayload({ provider: 'openai', cost_usd: 0.00012 })))).toBe(
      '~$0.0001 est.'
    );
    expect(costLabel(readResult(resultPayload({ provider: 'openai', cost_usd: 0.0000012 })))).toBe(
      '<$0.0001 est.'
    );
    expect(costLabel(readResult(resultPayload({ provider: 'openai', cost_usd: 0 })))).toBe('$0');
    expect(costLabel(readResult(resultPayload({ provider: 'openai', cost_usd: null })))).toBeNull();
    expect(tokensLabel(readResult(resultPayload()))).toBe('31 in / 30 out tokens');
    expect(
      tokensLabel(readResult(resultPayload({ usage: { input_tokens: 3, output_tokens: null } })))
    ).toBe('3 in / ? out tokens');
  });

  it('warns about interrupted, truncated and max-tokens answers', () => {
    expect(warningOf(readResult(resultPayload()))).toBeNull();
    expect(warningOf(readResult(resultPayload({ interrupted: true, complete: false })))!.kind).toBe(
      'interrupted'
    );
    expect(warningOf(readResult(resultPayload({ finish_reason: null, complete: false })))!.kind).toBe(
      'truncated'
    );
    expect(warningOf(readResult(resultPayload({ finish_reason: 'length' })))!.kind).toBe(
      'max-tokens'
    );
    expect(warningOf(readResult(resultPayload({ finish_reason: null, error: 'boom' })))).toBeNull();
  });

  it('puts the details in a tooltip', () => {
    const title = detailsTitle(readResult(resultPayload({ parameters: { seed: 1, system: 'Be brief.' } })));
    expect(title).toContain('seed 1');
    expect(title).toContain('system: Be brief.');
    expect(title).toContain('cache key: ab12cd34');
  });
});

describe('cutLabel', () => {
  it('says how much of a long answer is shown', () => {
    expect(cutLabel(readResult(resultPayload()))).toBeNull();
    expect(
      cutLabel(readResult(resultPayload({ text: 'x'.repeat(1500), truncated: true, full_length: 250000 })))
    ).toBe('showing 1,500 of 250,000 characters (the full text is in the result: -o VAR)');
  });
});

describe('extractCode and parseJsonAnswer', () => {
  it('extracts the first fenced block', () => {
    expect(extractCode('Here:\n```python\nprint(1)\n```\nDone.')).toEqual(['print(1)', 'python']);
    expect(extractCode('~~~\nx\n~~~')).toEqual(['x', '']);
    expect(extractCode('  just code  ')).toEqual(['just code', '']);
  });

  it('parses bare and fenced JSON', () => {
    expect(parseJsonAnswer('{"a": 1}')).toEqual({ a: 1 });
    expect(parseJsonAnswer('```json\n[1, 2]\n```')).toEqual([1, 2]);
    expect(parseJsonAnswer('null')).toBeNull();
    expect(parseJsonAnswer('not json')).toBeUndefined();
  });
});
