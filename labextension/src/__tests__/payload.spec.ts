import { describe, expect, it } from 'vitest';

import { detailsTitle, extractCode, parseJsonAnswer, readCompare, readResult } from '../payload';
import { comparePayload, resultPayload, schemaErrors } from './fixtures';

describe('readResult', () => {
  it('reads the Python payload as it is, footer items included', () => {
    expect(schemaErrors('result', resultPayload())).toBe('');
    const r = readResult(resultPayload());
    expect(r.model).toBe('smollm2');
    expect(r.parameters.seed).toBe(1);
    expect(r.usage).toEqual({ input_tokens: 31, output_tokens: 30 });
    expect(r.footer_items.map(i => i.kind)).toEqual([
      'model',
      'tokens',
      'latency',
      'first_token',
      'cost'
    ]);
    expect(r.error).toBeNull();
    // What it read is a valid payload again (an error column, the absent schema and the
    // images, none sent, aside).
    expect(r.schema).toBeNull();
    expect(r.sent).toEqual([]);
    const { error: _none, schema: _absent, sent: _noImages, ...rest } = r;
    expect(schemaErrors('result', rest)).toBe('');
  });

  it('reads tool steps, and reads unknown footer kinds as notes', () => {
    const r = readResult(
      resultPayload({
        tool_steps: [{ name: 'f', arguments: { x: 1 }, result: '2', is_error: false }, 'junk'],
        footer_items: [{ kind: 'vendor', text: 'x' }, { kind: 'cost' }]
      })
    );
    expect(r.tool_steps).toEqual([{ name: 'f', arguments: { x: 1 }, result: '2', is_error: false }]);
    expect(r.footer_items).toEqual([{ kind: 'note', text: 'x' }]);
  });

  it('shows the footer line of outputs saved before footer items', () => {
    const { footer_items: _items, ...old } = resultPayload();
    expect(readResult({ ...old, footer: 'smollm2 · 3 in' }).footer_items).toEqual([
      { kind: 'note', text: 'smollm2 · 3 in' }
    ]);
  });

  it('survives garbage', () => {
    for (const value of [null, undefined, 42, 'x', [], { text: 5, format: 'evil', usage: 'x' }]) {
      const r = readResult(value);
      expect(r.text).toBe('');
      expect(r.format).toBe('markdown');
      expect(r.usage).toEqual({ input_tokens: null, output_tokens: null });
      expect(r.footer_items).toEqual([]);
      expect(r.finish_reason).toBeNull();
    }
    expect(readResult(resultPayload({ finish_reason: 'end_turn' })).finish_reason).toBeNull();
  });
});

describe('readCompare', () => {
  it('reads the Python payload', () => {
    expect(schemaErrors('compare', comparePayload())).toBe('');
    const c = readCompare(comparePayload());
    expect(c.results).toHaveLength(3);
    expect(c.results[2].error).toContain('ANTHROPIC_API_KEY');
    expect(c.aggregate!.winner).toBe(1);
    expect(c.aggregate!.line).toContain('consensus: gpt-4o-mini');
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
    expect(c.aggregate!.line).toBe('voting');
    expect(c.diff).toBeNull();
    expect(readCompare(comparePayload({ diff: { mode: 'x', a: 0, b: 1, ops: [] } })).diff).toBeNull();
    expect(readCompare(comparePayload({ aggregate: null })).aggregate).toBeNull();
    expect(readCompare(null).results).toEqual([]);
  });
});

describe('detailsTitle', () => {
  it('puts the details in a tooltip', () => {
    const title = detailsTitle(
      readResult(resultPayload({ parameters: { seed: 1, system: 'Be brief.' } }))
    );
    expect(title).toContain('smollm2 · 31 in / 30 out tokens');
    expect(title).toContain('seed 1');
    expect(title).toContain('system: Be brief.');
    expect(title).toContain('cache key: ab12cd34');
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

describe('provenance', () => {
  it('keeps the declared text fields only', () => {
    const r = readResult(
      resultPayload({ provenance: { sdk: 'openai 3.57.0', host: 7, planted: '<img src=x>' } })
    );
    expect(r.provenance).toEqual({ sdk: 'openai 3.57.0' });
    expect(readResult(resultPayload({ provenance: 'junk' })).provenance).toEqual({});
  });
});
