import { describe, expect, it } from 'vitest';

import { readResult } from '../payload';
import { CSS, renderResult } from '../render';
import { VALUE_CSS } from '../value';
import { VALUE_TABLE } from '../vocabulary';
import { HOSTILE, resultPayload, schemaErrors } from './fixtures';

const CITY = { name: 'Paris', country: 'France', population: 2102650 };

function schema(value: unknown, overrides: Record<string, unknown> = {}) {
  return { name: 'City', ok: true, value, cut: false, errors: [], ...overrides };
}

async function shown(payload: Record<string, unknown>) {
  expect(schemaErrors('result', payload)).toBe('');
  const host = document.createElement('div');
  document.body.append(host);
  await renderResult(host, readResult(payload));
  return host;
}

const answerOf = (value: unknown, overrides: Record<string, unknown> = {}) =>
  shown(
    resultPayload({ text: JSON.stringify(value), format: 'json', schema: schema(value, overrides) })
  );

/** Each row of the first table as its cells' text. */
function cells(host: HTMLElement): string[][] {
  const table = host.querySelector(`table.${VALUE_CSS.table}`)!;
  return Array.from(table.querySelectorAll(':scope > * > tr'), tr =>
    Array.from(tr.children, cell => cell.textContent!)
  );
}

function expectInert(host: HTMLElement): void {
  expect(host.querySelector('script, img, iframe, object, embed, svg, a, b, style')).toBeNull();
  for (const el of Array.from(host.querySelectorAll('*'))) {
    for (const attr of Array.from(el.attributes)) {
      expect(attr.name.toLowerCase().startsWith('on'), `${el.localName}[${attr.name}]`).toBe(false);
    }
  }
}

describe('a --schema answer', () => {
  it('shows an object as field/value rows, the raw JSON folded away', async () => {
    const host = await answerOf(CITY);
    expect(host.querySelector(`.${CSS.answer}.${VALUE_CSS.root} p strong`)!.textContent).toBe(
      'City'
    );
    expect(cells(host)).toEqual([
      ['name', 'Paris'],
      ['country', 'France'],
      ['population', '2102650']
    ]);
    const raw = host.querySelector(`details.${VALUE_CSS.raw}`)!;
    expect(raw.hasAttribute('open')).toBe(false);
    expect(raw.querySelector('summary')!.textContent).toBe('raw JSON');
    expect(raw.querySelector('pre')!.textContent).toBe(JSON.stringify(CITY));
    expect(host.querySelector(`.${CSS.footer}`)).not.toBeNull();
  });

  it('shows a list of objects one row each, nested values as tables in cells', async () => {
    const value = [
      { name: 'Paris', address: { street: 'Rue de Rivoli', no: 1 }, tags: ['a', 'b'] },
      { name: 'Lyon', extra: null }
    ];
    const host = await answerOf(value, { name: 'list[City]' });
    const rows = cells(host);
    expect(rows[0]).toEqual(['#', 'name', 'address', 'tags', 'extra']);
    expect(rows[2]).toEqual(['1', 'Lyon', '', '', 'null']);
    const nested = host.querySelector(`table.${VALUE_CSS.table} td table.${VALUE_CSS.table}`)!;
    expect(Array.from(nested.querySelectorAll('th'), th => th.textContent)).toEqual([
      'street',
      'no'
    ]);
    expect(Array.from(host.querySelectorAll('td ol li'), li => li.textContent)).toEqual(['a', 'b']);
  });

  it('shows a validation error as one block above the answer', async () => {
    const errors = ['population: Input should be a valid integer', 'country: Field required'];
    const host = await shown(
      resultPayload({
        text: '{"name": "Paris", "population": "many"}',
        schema: { name: 'City', ok: false, value: null, cut: false, errors }
      })
    );
    const blocks = host.querySelectorAll(`.${VALUE_CSS.invalid}`);
    expect(blocks).toHaveLength(1);
    expect(blocks[0].querySelector('p')!.textContent).toBe(
      'The answer does not match the schema City (.value is None and the answer was not cached):'
    );
    expect(Array.from(blocks[0].querySelectorAll('li'), li => li.textContent)).toEqual(errors);
    expect(host.querySelector('table')).toBeNull();
    expect(host.querySelector(`details.${VALUE_CSS.raw} pre`)!.textContent).toContain('"many"');
  });

  it('shows HTML in keys, values, the name and errors as text', async () => {
    const value = { [HOSTILE]: HOSTILE, '<b>k</b>': ['<script>x</script>'] };
    const host = await answerOf(value, { name: '<img src=x onerror=alert(1)>' });
    expectInert(host);
    expect(cells(host)[0]).toEqual([HOSTILE, HOSTILE]);
    expect(host.textContent).toContain('<script>x</script>');
    expect(host.textContent).toContain('<img src=x onerror=alert(1)>');
    const failed = await shown(
      resultPayload({
        schema: { name: 'C', ok: false, value: null, cut: false, errors: [HOSTILE] }
      })
    );
    expectInert(failed);
    expect(failed.querySelector(`.${VALUE_CSS.invalid} li`)!.textContent).toBe(HOSTILE);
  });

  it('bounds huge lists and objects, says how many more', async () => {
    const big = Array.from({ length: 100_000 }, (_, i) => ({ i, s: 'x'.repeat(10) }));
    const started = performance.now();
    const host = await shown(resultPayload({ text: '[]', schema: schema(big) }));
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(host.querySelectorAll('tbody tr')).toHaveLength(VALUE_TABLE.max_rows);
    expect(host.querySelector(`.${VALUE_CSS.more}`)!.textContent).toBe(
      `… ${(100_000 - VALUE_TABLE.max_rows).toLocaleString('en-US')} more (all of them are in .value)`
    );
    const wide = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`k${i}`, i]));
    const many = await shown(resultPayload({ schema: schema(wide) }));
    expect(many.querySelectorAll('tr')).toHaveLength(VALUE_TABLE.max_rows);
    const long = await shown(resultPayload({ schema: schema({ s: 'y'.repeat(1_000_000) }) }));
    expect(long.querySelector('td')!.textContent!.length).toBe(VALUE_TABLE.max_leaf_chars + 1);
  });

  it('shows deep nesting as tables down to the limit, then compact JSON', async () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 10_000; i++) {
      deep = { d: deep };
    }
    const host = await shown(resultPayload({ schema: schema(deep, { cut: true }) }));
    expect(host.querySelectorAll('table')).toHaveLength(VALUE_TABLE.max_depth);
    const code = host.querySelector('td code')!;
    expect(code.textContent!.length).toBeLessThanOrEqual(VALUE_TABLE.max_leaf_chars + 1);
    expect(host.querySelector(`p.${VALUE_CSS.more}`)!.textContent).toContain(
      'all of it is in .value'
    );
  });

  it('keeps odd Unicode as written', async () => {
    const odd = {
      'e\u0301\u200d👩‍🔬': 'RTL \u202eevil\u202c 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u0000 \ufeff',
      '': ''
    };
    // As a notebook file holds it: JSON.parse makes __proto__ an own key.
    const parsed = JSON.parse(
      JSON.stringify(odd).slice(0, -1) + ',"__proto__":"p","constructor":{"toString":1}}'
    );
    const host = await answerOf(parsed);
    const rows = cells(host);
    expect(rows[0]).toEqual(['e\u0301\u200d👩‍🔬', 'RTL \u202eevil\u202c 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u0000 \ufeff']);
    expect(rows.map(r => r[0])).toEqual(['e\u0301\u200d👩‍🔬', '', '__proto__', 'constructor']);
    // A leaf is cut by characters, never inside a surrogate pair.
    const emoji = await shown(resultPayload({ schema: schema({ e: '😀'.repeat(5_000) }) }));
    const text = emoji.querySelector('td')!.textContent!;
    expect(Array.from(text)).toHaveLength(VALUE_TABLE.max_leaf_chars + 1);
    expect(text.endsWith('😀…')).toBe(true);
  });

  it('reads a mistyped schema part safely', () => {
    expect(readResult(resultPayload({ schema: 'City' })).schema).toBeNull();
    expect(readResult(resultPayload({ schema: { name: 3 } })).schema).toBeNull();
    const r = readResult(
      resultPayload({ schema: { name: 'C', ok: true, value: 1, errors: ['e', 7] } })
    );
    expect(r.schema).toEqual({ name: 'C', ok: false, value: null, cut: false, errors: ['e'] });
    expect(readResult(resultPayload({ schema: { name: 'C', ok: true } })).schema!.value).toBeNull();
  });
});
