import { describe, expect, it, vi } from 'vitest';

import { readCompare, readResult } from '../payload';
import { CSS, IRenderContext, renderCompare, renderResult } from '../render';
import { HOSTILE, comparePayload, footerWith, resultPayload } from './fixtures';

const flush = () => new Promise(resolve => setTimeout(resolve, 0));

function context(actions: IRenderContext['actions'] = {}): IRenderContext {
  return { actions };
}

async function result(overrides: Record<string, unknown> = {}, ctx = context()) {
  const host = document.createElement('div');
  document.body.append(host);
  await renderResult(host, readResult(resultPayload(overrides)), ctx);
  return host;
}

/** No element may carry an event handler or a script link, whatever text is shown. */
function expectNoActiveContent(host: HTMLElement): void {
  expect(host.querySelector('script, img, iframe, object, embed, svg')).toBeNull();
  for (const el of Array.from(host.querySelectorAll('*'))) {
    for (const attr of Array.from(el.attributes)) {
      expect(attr.name.toLowerCase().startsWith('on'), `${el.localName}[${attr.name}]`).toBe(false);
      expect(attr.value).not.toMatch(/^\s*javascript:/i);
    }
  }
}

const footerText = (host: HTMLElement) =>
  host.querySelector(`.${CSS.footer}`)!.textContent!.replace(/\s+/g, ' ');

describe('renderResult', () => {
  it('renders the answer as Markdown with the kernel’s footer items', async () => {
    const host = await result();
    expect(host.querySelector(`.${CSS.answer} strong`)!.textContent).toBe('world');
    expect(host.querySelector(`.${CSS.model}`)!.textContent).toBe('smollm2');
    const items = Array.from(host.querySelectorAll(`.${CSS.footer} [data-kind]`), el => [
      el.getAttribute('data-kind'),
      el.textContent
    ]);
    expect(items).toEqual([
      ['model', 'smollm2'],
      ['tokens', '31 in / 30 out tokens'],
      ['latency', '0.41 s'],
      ['first_token', 'first token 0.05 s'],
      ['cost', '$0 (local)']
    ]);
    expect(host.querySelector(`.${CSS.footer}`)!.getAttribute('title')).toContain('seed 1');
  });

  it('draws cached badges, warnings and notes as the kernel worded them', async () => {
    const host = await result({
      footer_items: footerWith(
        { kind: 'cached', text: 'cached' },
        { kind: 'max_tokens', text: 'stopped at --max-tokens' },
        { kind: 'cut', text: 'showing 16 of 300,000 characters' },
        { kind: 'note', text: 'answered by fallback smollm2' }
      )
    });
    expect(host.querySelector('.jp-mod-cached')!.textContent).toBe('cached');
    expect(host.querySelector(`.${CSS.warning}.jp-mod-max_tokens`)!.textContent).toBe(
      '⚠ stopped at --max-tokens'
    );
    expect(host.querySelector('.jp-mod-cut')!.textContent).toContain('showing 16 of 300,000');
    expect(host.querySelector(`.${CSS.note}`)!.textContent).toBe('answered by fallback smollm2');
    // Nothing is re-derived from the other fields.
    const plain = await result({ cached: true, finish_reason: 'length', footer_items: [] });
    expect(plain.querySelector(`.${CSS.footer}`)!.textContent).toBe('Copy');
  });

  it('shows the tool calls of a --tools answer', async () => {
    const host = await result({
      tool_steps: [
        { name: 'get_weather', arguments: { city: 'Paris' }, result: '21 C', is_error: false },
        { name: 'get_weather', arguments: { city: 3 }, result: '<b>TypeError</b>', is_error: true }
      ],
      footer_items: footerWith({ kind: 'tools', text: '2 tool calls' })
    });
    const tools = host.querySelector(`.${CSS.tools}`)!;
    expect(tools.querySelector('summary')!.textContent).toBe('2 tool calls');
    const steps = Array.from(tools.querySelectorAll('li'), li => li.textContent);
    expect(steps).toEqual([
      'get_weather({"city":"Paris"}) → 21 C',
      'get_weather({"city":3}) → <b>TypeError</b>'
    ]);
    expect(tools.querySelectorAll('li.jp-mod-error')).toHaveLength(1);
    expect(tools.querySelector('b')).toBeNull();
  });

  it('shows model text as written: raw HTML is text, Markdown is formatting', async () => {
    const host = await result({
      text: '**Note:** a<b and b>c, <div>x</div> <br> <script>y</script> <start_of_image> `a < b && c`'
    });
    const answer = host.querySelector(`.${CSS.answer}`)!;
    expect(answer.querySelector('strong')!.textContent).toBe('Note:');
    expect(answer.textContent!.trim()).toBe(
      'Note: a<b and b>c, <div>x</div> <br> <script>y</script> <start_of_image> a < b && c'
    );
    expect(answer.querySelector('code')!.textContent).toBe('a < b && c');
    expect(answer.querySelector('div, br, script')).toBeNull();
  });

  it('renders hostile model text inert', async () => {
    const host = await result({ text: HOSTILE });
    expectNoActiveContent(host);
    // shown as the text it is
    expect(host.querySelector(`.${CSS.answer}`)!.textContent).toContain(
      '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    );
  });

  it('copies the answer', async () => {
    const copy = vi.fn();
    const host = await result({}, context({ copy }));
    const button = host.querySelector<HTMLButtonElement>('button[data-action="copy"]')!;
    button.click();
    await flush();
    expect(copy).toHaveBeenCalledWith('Hello **world**.');
    expect(button.textContent).toBe('Copied');
  });

  it('offers "insert as code cell" for code answers only, with the code', async () => {
    const insertCodeCell = vi.fn(() => true);
    const text = 'Here you go:\n```python\nprint("hi")\n```\n';
    const host = await result({ text, format: 'code' }, context({ insertCodeCell }));
    expect(host.querySelector('pre code.language-python')!.textContent).toBe('print("hi")');
    host.querySelector<HTMLButtonElement>('button[data-action="insert-code-cell"]')!.click();
    await flush();
    expect(insertCodeCell).toHaveBeenCalledWith('print("hi")', host);

    const copy = vi.fn();
    const copied = await result({ text, format: 'code' }, context({ copy }));
    copied.querySelector<HTMLButtonElement>('button[data-action="copy"]')!.click();
    await flush();
    expect(copy).toHaveBeenCalledWith('print("hi")');

    const markdown = await result({}, context({ insertCodeCell }));
    expect(markdown.querySelector('button[data-action="insert-code-cell"]')).toBeNull();
  });

  it('renders text, JSON and HTML formats', async () => {
    const text = await result({ text: '<b>not bold</b>\n  indented', format: 'text' });
    expect(text.querySelector('pre')!.textContent).toBe('<b>not bold</b>\n  indented');
    expect(text.querySelector('b')).toBeNull();

    const json = await result({ text: '```json\n{"a":[1,2]}\n```', format: 'json' });
    expect(json.querySelector('pre')!.textContent).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}');
    const bad = await result({ text: 'nope', format: 'json' });
    expect(bad.textContent).toContain('The answer is not valid JSON.');

    const html = await result({ text: `<h3>Title</h3>${HOSTILE}`, format: 'html' });
    expect(html.querySelector('h3')!.textContent).toBe('Title');
    expectNoActiveContent(html);
    // the Markdown-style link is plain text in an HTML answer
    expect(html.textContent).toContain('[x](javascript:window.__pwned=3)');
  });

  it('says so when the answer is empty', async () => {
    expect((await result({ text: '  ' })).textContent).toContain('(empty answer)');
  });
});

describe('renderCompare', () => {
  async function compare(overrides: Record<string, unknown> = {}) {
    const host = document.createElement('div');
    document.body.append(host);
    await renderCompare(host, readCompare(comparePayload(overrides)), context());
    return host;
  }

  it('renders one column per model, with footers, errors and the winner', async () => {
    const host = await compare();
    const columns = host.querySelectorAll(`.${CSS.column}`);
    expect(columns).toHaveLength(3);
    expect(columns[0].querySelector(`.${CSS.model}`)!.textContent).toBe('smollm2');
    expect(columns[1].classList.contains(CSS.winner)).toBe(true);
    expect(columns[1].textContent).toContain('cached');
    expect(columns[1].textContent).toContain('<$0.0001 est.');
    expect(columns[2].querySelector(`.${CSS.error}`)!.textContent).toContain('ANTHROPIC_API_KEY');
    expect(columns[2].querySelector('[data-kind="error"]')!.textContent).toBe('error');
    expect(columns[2].querySelector(`.${CSS.answer}`)).toBeNull();
    expect(host.querySelector(`.${CSS.prompt}`)!.textContent).toContain('Name a colour.');
  });

  it('renders the aggregate', async () => {
    const aggregate = (await compare()).querySelector(`.${CSS.aggregate}`)!;
    expect(aggregate.querySelector('header')!.textContent).toBe(
      'consensus: gpt-4o-mini (score 0.83): 2 of 2 answers agree most with answer 2.'
    );
    expect(aggregate.querySelector(`.${CSS.answer}`)!.textContent).toContain('grey');
    expect((await compare({ aggregate: null })).querySelector(`.${CSS.aggregate}`)).toBeNull();
  });

  it('shows the kernel’s diff first, then recomputes for other pairs and modes', async () => {
    const host = await compare();
    const text = () => host.querySelector(`.${CSS.diffText}`)!;
    expect(text().querySelector('del')!.textContent).toBe('blue');
    expect(text().querySelector('ins')!.textContent).toBe('grey');
    expect(text().textContent).toBe('The sky is blue grey today.'); // not "bluegrey"
    expect(host.querySelector(`.${CSS.diffStats}`)!.textContent).toBe(
      '1 word only in A, 1 word only in B.'
    );

    host.querySelector<HTMLButtonElement>('button[data-mode="char"]')!.click();
    expect(host.querySelector('button[data-mode="char"]')!.getAttribute('aria-checked')).toBe(
      'true'
    );
    // "blue" -> "grey" keeps the shared "e"
    const dels = Array.from(text().querySelectorAll('del'), d => d.textContent).join('|');
    const inss = Array.from(text().querySelectorAll('ins'), d => d.textContent).join('|');
    expect(dels).toBe('blu');
    expect(inss).toBe('gr|y');
    expect(text().textContent).toBe('The sky is blugrey today.');
    expect(host.querySelector(`.${CSS.diffStats}`)!.textContent).toBe(
      '3 characters only in A, 3 characters only in B.'
    );

    host.querySelector<HTMLButtonElement>('button[data-mode="line"]')!.click();
    const rows = Array.from(text().querySelectorAll(`.${CSS.diffRow}`), r => r.textContent);
    expect(rows).toEqual(['- The sky is blue today.', '+ The sky is grey today.']);

    const b = host.querySelector<HTMLSelectElement>('select[data-side="b"]')!;
    b.value = '0';
    b.dispatchEvent(new Event('change'));
    expect(text().querySelector('del, ins')).toBeNull();
    expect(host.querySelector(`.${CSS.diffStats}`)!.textContent).toBe(
      'The two answers are identical.'
    );
  });

  it('shows no stray change after the last word when one answer ends with blank lines', async () => {
    const payload = comparePayload();
    const results = payload.results as Record<string, unknown>[];
    results[0].text = 'The capital is Paris.\n\n';
    results[1].text = 'The capital is Rome.';
    const host = await compare({ results, diff: null }); // the extension diffs these itself
    const text = host.querySelector(`.${CSS.diffText}`)!;
    expect(Array.from(text.querySelectorAll('del, ins'), d => d.textContent)).toEqual([
      'Paris',
      'Rome'
    ]);
    expect(text.textContent).toBe('The capital is Paris Rome.');
    host.querySelector<HTMLButtonElement>('button[data-mode="line"]')!.click();
    const rows = Array.from(text.querySelectorAll(`.${CSS.diffRow}`), r => r.textContent);
    expect(rows).toEqual(['- The capital is Paris.', '+ The capital is Rome.']);
  });

  it('keeps hostile text inert in columns, aggregate and diff', async () => {
    const payload = comparePayload();
    const results = payload.results as Record<string, unknown>[];
    results[0].text = HOSTILE;
    const host = await compare({
      results,
      aggregate: { method: 'voting', winner: 0, score: 1, explanation: HOSTILE, text: HOSTILE },
      diff: { mode: 'word', a: 0, b: 1, ops: [['insert', HOSTILE]] }
    });
    expectNoActiveContent(host);
    // the diff shows the raw text, as text
    expect(host.querySelector(`.${CSS.diffText} ins`)!.textContent).toBe(HOSTILE);
  });

  it('has no diff for a single model', async () => {
    const payload = comparePayload();
    const host = await compare({
      results: (payload.results as unknown[]).slice(0, 1),
      aggregate: null,
      diff: null
    });
    expect(host.querySelector(`.${CSS.diff}`)).toBeNull();
  });
});
