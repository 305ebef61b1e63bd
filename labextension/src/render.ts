/**
 * DOM for the result and compare payloads. Model text only ever reaches the page as text
 * nodes or through `safe.ts`; nothing here sets innerHTML. The footer is the kernel's
 * `footer_items`, drawn as they are (styled by kind).
 */

import { DIFF_MODES, DiffOp, diffTexts } from './diff';
import { h } from './dom';
import { ICompare, IResult, detailsTitle, extractCode, parseJsonAnswer } from './payload';
import type { FooterItem } from './payload.types';
import { renderSafeHtml, renderSafeMarkdown } from './safe';
import { renderSent } from './thumbnails';
import { renderSchemaAnswer } from './value';
import type { DiffMode, FooterKind } from './vocabulary';

/** What the renderers may ask of the application (absent in tests or outside a notebook). */
export interface IActions {
  /** Copy text to the system clipboard. */
  copy?(text: string): void | Promise<void>;
  /** Insert a code cell holding `code` below the cell whose output contains `origin`. */
  insertCodeCell?(code: string, origin: HTMLElement): boolean | void | Promise<unknown>;
}

export interface IRenderContext {
  actions?: IActions;
}

export const CSS = {
  result: 'jp-MemoriesMagics-result',
  answer: 'jp-MemoriesMagics-answer',
  plain: 'jp-MemoriesMagics-plain',
  empty: 'jp-MemoriesMagics-empty',
  footer: 'jp-MemoriesMagics-footer',
  model: 'jp-MemoriesMagics-model',
  item: 'jp-MemoriesMagics-item',
  badge: 'jp-MemoriesMagics-badge',
  warning: 'jp-MemoriesMagics-warning',
  note: 'jp-MemoriesMagics-note',
  actions: 'jp-MemoriesMagics-actions',
  button: 'jp-MemoriesMagics-button',
  error: 'jp-MemoriesMagics-error',
  compare: 'jp-MemoriesMagics-compare',
  prompt: 'jp-MemoriesMagics-prompt',
  columns: 'jp-MemoriesMagics-columns',
  column: 'jp-MemoriesMagics-column',
  columnHeader: 'jp-MemoriesMagics-columnHeader',
  aggregate: 'jp-MemoriesMagics-aggregate',
  diff: 'jp-MemoriesMagics-diff',
  diffControls: 'jp-MemoriesMagics-diffControls',
  diffText: 'jp-MemoriesMagics-diffText',
  diffStats: 'jp-MemoriesMagics-diffStats',
  diffRow: 'jp-MemoriesMagics-diffRow',
  tools: 'jp-MemoriesMagics-tools',
  winner: 'jp-mod-winner'
};

/** A small button that runs `onClick` and briefly shows `done` as its label. */
function actionButton(
  doc: Document,
  label: string,
  title: string,
  action: string,
  onClick: () => unknown,
  done: string
): HTMLButtonElement {
  const button = h(doc, 'button', CSS.button, [label], {
    type: 'button',
    title,
    'data-action': action
  }) as HTMLButtonElement;
  button.addEventListener('click', event => {
    event.preventDefault();
    event.stopPropagation();
    Promise.resolve()
      .then(onClick)
      .then(
        () => flash(button, label, done),
        () => flash(button, label, 'Failed')
      );
  });
  return button;
}

function flash(button: HTMLButtonElement, label: string, text: string): void {
  button.textContent = text;
  setTimeout(() => {
    button.textContent = label;
  }, 1500);
}

async function copyText(context: IRenderContext, text: string): Promise<void> {
  if (context.actions?.copy) {
    await context.actions.copy(text);
    return;
  }
  const clipboard = typeof navigator !== 'undefined' ? navigator.clipboard : undefined;
  if (!clipboard) {
    throw new Error('no clipboard');
  }
  await clipboard.writeText(text);
}

/** The text that "Copy" copies: the code of a code answer, else the whole answer. */
export function copyableText(result: IResult): string {
  return result.format === 'code' ? extractCode(result.text)[0] : result.text;
}

/** Render the answer itself (by format) into a new element. */
export function renderAnswer(doc: Document, result: IResult): HTMLElement {
  const text = result.text;
  if (result.schema) {
    const answer = renderSchemaAnswer(doc, result.schema, text, result.cached);
    answer.classList.add(CSS.answer, 'jp-RenderedHTMLCommon');
    return answer;
  }
  if (!text.trim()) {
    return h(doc, 'div', `${CSS.answer} ${CSS.empty}`, ['(empty answer)']);
  }
  switch (result.format) {
    case 'text':
      return h(doc, 'pre', `${CSS.answer} ${CSS.plain}`, [text]);
    case 'code': {
      const [code, language] = extractCode(text);
      const codeEl = h(doc, 'code', undefined, [code]);
      if (/^[\w+#.-]+$/.test(language)) {
        codeEl.className = `language-${language}`;
      }
      return h(doc, 'pre', `${CSS.answer} ${CSS.plain}`, [codeEl], {
        'data-language': language
      });
    }
    case 'json': {
      const value = parseJsonAnswer(text);
      if (value !== undefined) {
        return h(doc, 'pre', `${CSS.answer} ${CSS.plain}`, [
          JSON.stringify(value, null, 2)
        ]);
      }
      const host = h(doc, 'div', `${CSS.answer} jp-RenderedHTMLCommon jp-RenderedMarkdown`);
      renderSafeMarkdown(host, text);
      host.append(h(doc, 'p', CSS.warning, ['The answer is not valid JSON.']));
      return host;
    }
    case 'html': {
      const host = h(doc, 'div', `${CSS.answer} jp-RenderedHTMLCommon jp-RenderedHTML`);
      renderSafeHtml(host, text);
      return host;
    }
    default: {
      const host = h(doc, 'div', `${CSS.answer} jp-RenderedHTMLCommon jp-RenderedMarkdown`);
      renderSafeMarkdown(host, text);
      return host;
    }
  }
}

/** Footer items that are warnings (drawn with a ⚠), by kind. */
const WARNINGS = new Set<FooterKind>([
  'interrupted',
  'truncated',
  'max_tokens',
  'content_filter',
  'cut'
]);

/** One footer item as the kernel wrote it; its kind chooses the style. */
function footerItem(doc: Document, item: FooterItem): HTMLElement {
  const attrs = { 'data-kind': item.kind };
  switch (item.kind) {
    case 'model':
      return h(doc, 'span', CSS.model, [item.text], attrs);
    case 'cached':
      return h(doc, 'span', `${CSS.badge} jp-mod-cached`, [item.text], {
        ...attrs,
        title: 'Answered from this notebook’s cache'
      });
    case 'error':
      return h(doc, 'span', `${CSS.badge} jp-mod-error`, ['error'], { ...attrs, title: item.text });
    case 'note':
      return h(doc, 'span', CSS.note, [item.text], attrs);
    default:
      return WARNINGS.has(item.kind)
        ? h(doc, 'span', `${CSS.warning} jp-mod-${item.kind}`, [`⚠ ${item.text}`], attrs)
        : h(doc, 'span', CSS.item, [item.text], attrs);
  }
}

/** The tool calls of a --tools answer: `name(arguments) → result`, errors marked. */
function renderToolSteps(doc: Document, result: IResult): HTMLElement {
  const count = result.tool_steps.length;
  const list = h(doc, 'ol');
  for (const step of result.tool_steps) {
    list.append(
      h(doc, 'li', step.is_error ? 'jp-mod-error' : undefined, [
        h(doc, 'code', undefined, [`${step.name}(${JSON.stringify(step.arguments)})`]),
        ' → ',
        h(doc, 'span', 'jp-MemoriesMagics-toolResult', [step.result])
      ])
    );
  }
  return h(doc, 'details', CSS.tools, [
    h(doc, 'summary', undefined, [`${count} tool call${count === 1 ? '' : 's'}`]),
    list
  ]);
}

/** The compact footer: the kernel's items, then the buttons. */
export function renderFooter(
  doc: Document,
  result: IResult,
  context: IRenderContext,
  origin: () => HTMLElement
): HTMLElement {
  const footer = h(doc, 'div', CSS.footer, [], { title: detailsTitle(result) });
  footer.append(...result.footer_items.map(item => footerItem(doc, item)));
  if (result.error) {
    return footer;
  }
  const actions = h(doc, 'span', CSS.actions);
  actions.append(
    actionButton(
      doc,
      'Copy',
      result.format === 'code' ? 'Copy the code' : 'Copy the answer',
      'copy',
      () => copyText(context, copyableText(result)),
      'Copied'
    )
  );
  const insert = context.actions?.insertCodeCell;
  if (result.format === 'code' && insert) {
    actions.append(
      actionButton(
        doc,
        'Insert as code cell',
        'Insert the code in a new cell below this one',
        'insert-code-cell',
        () => {
          const ok = insert(copyableText(result), origin());
          if (ok === false) {
            throw new Error('no notebook');
          }
          return ok;
        },
        'Inserted'
      )
    );
  }
  footer.append(actions);
  return footer;
}

/** Render a result payload into `host`. */
export async function renderResult(
  host: HTMLElement,
  result: IResult,
  context: IRenderContext = {}
): Promise<void> {
  const doc = host.ownerDocument;
  const root = h(doc, 'div', CSS.result, [], { 'data-format': result.format });
  root.append(...renderSent(doc, result.sent), renderAnswer(doc, result));
  if (result.tool_steps.length) {
    root.append(renderToolSteps(doc, result));
  }
  root.append(renderFooter(doc, result, context, () => host));
  host.replaceChildren(root);
}

const GUTTER = { equal: ' ', delete: '-', insert: '+' };

/**
 * A diff as text nodes: words and characters inline (a deletion and the insertion that
 * replaces it kept apart by a space in word mode), lines one row each with a -/+ gutter.
 */
function diffFragment(doc: Document, ops: DiffOp[], mode: DiffMode): DocumentFragment {
  const fragment = doc.createDocumentFragment();
  if (mode === 'line') {
    for (const [op, text] of ops) {
      for (const line of text.replace(/\n$/, '').split('\n')) {
        fragment.append(
          h(doc, 'div', `${CSS.diffRow} jp-mod-${op}`, [`${GUTTER[op]} ${line}`], { 'data-op': op })
        );
      }
    }
    return fragment;
  }
  ops.forEach(([op, text], i) => {
    if (op === 'equal') {
      fragment.append(doc.createTextNode(text));
      return;
    }
    fragment.append(h(doc, op === 'insert' ? 'ins' : 'del', `jp-mod-${op}`, [text]));
    const next = ops[i + 1];
    if (mode === 'word' && op === 'delete' && next?.[0] === 'insert' &&
        !/\s$/.test(text) && !/^\s/.test(next[1])) {
      fragment.append(doc.createTextNode(' '));
    }
  });
  return fragment;
}

function diffStats(ops: DiffOp[], mode: DiffMode): string {
  const unit = { word: 'word', line: 'line', char: 'character' }[mode];
  const count = (op: string) =>
    ops
      .filter(([o]) => o === op)
      .reduce((n, [, text]) => {
        if (mode === 'char') {
          return n + Array.from(text).length;
        }
        if (mode === 'line') {
          return n + (text.match(/[^\n]*\n|[^\n]+$/g) ?? []).length;
        }
        return n + (text.match(/\S+/g) ?? []).length;
      }, 0);
  const removed = count('delete');
  const added = count('insert');
  if (!removed && !added) {
    return 'The two answers are identical.';
  }
  const plural = (n: number) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  return `${plural(removed)} only in A, ${plural(added)} only in B.`;
}

/** The interactive diff: pick two columns and a mode. */
function renderDiff(doc: Document, compare: ICompare): HTMLElement {
  const results = compare.results;
  const initial = compare.diff ?? { mode: 'word' as DiffMode, a: 0, b: 1, ops: null };
  const state = { a: initial.a, b: initial.b, mode: initial.mode };

  const section = h(doc, 'section', CSS.diff);
  const output = h(doc, 'pre', CSS.diffText);
  const stats = h(doc, 'div', CSS.diffStats);

  const picker = (side: 'a' | 'b') => {
    const select = h(doc, 'select', 'jp-mod-styled', [], {
      'data-side': side,
      'aria-label': `Diff side ${side.toUpperCase()}`
    }) as HTMLSelectElement;
    results.forEach((r, i) => {
      const option = h(doc, 'option', undefined, [`${i + 1}. ${r.model}`], {
        value: String(i)
      }) as HTMLOptionElement;
      select.append(option);
    });
    select.value = String(state[side]);
    select.addEventListener('change', () => {
      state[side] = Number(select.value);
      update();
    });
    return select;
  };

  const modes = h(doc, 'span', 'jp-MemoriesMagics-diffModes', [], { role: 'radiogroup' });
  const modeButtons = DIFF_MODES.map(mode => {
    const button = h(doc, 'button', CSS.button, [mode], {
      type: 'button',
      role: 'radio',
      'data-mode': mode
    }) as HTMLButtonElement;
    button.addEventListener('click', () => {
      state.mode = mode;
      update();
    });
    modes.append(button);
    return button;
  });

  const update = () => {
    let ops: DiffOp[];
    const d = compare.diff;
    if (d && d.a === state.a && d.b === state.b && d.mode === state.mode) {
      ops = d.ops; // the kernel's diff, as the static output shows it
    } else {
      // As the kernel does: trailing blank lines are no difference to a reader.
      ops = diffTexts(results[state.a].text.trimEnd(), results[state.b].text.trimEnd(), state.mode);
    }
    output.replaceChildren(diffFragment(doc, ops, state.mode));
    output.dataset.mode = state.mode;
    stats.textContent = diffStats(ops, state.mode);
    for (const button of modeButtons) {
      const on = button.dataset.mode === state.mode;
      button.classList.toggle('jp-mod-active', on);
      button.setAttribute('aria-checked', String(on));
    }
  };

  section.append(
    h(doc, 'div', CSS.diffControls, [
      h(doc, 'span', 'jp-MemoriesMagics-label', ['Diff']),
      h(doc, 'span', 'jp-MemoriesMagics-side jp-mod-delete', ['A']),
      picker('a'),
      h(doc, 'span', 'jp-MemoriesMagics-side jp-mod-insert', ['B']),
      picker('b'),
      modes
    ]),
    output,
    stats
  );
  update();
  return section;
}

/** Render a compare payload into `host`. */
export async function renderCompare(
  host: HTMLElement,
  compare: ICompare,
  context: IRenderContext = {}
): Promise<void> {
  const doc = host.ownerDocument;
  const root = h(doc, 'div', CSS.compare, renderSent(doc, compare.sent));
  if (compare.prompt) {
    root.append(
      h(doc, 'details', CSS.prompt, [
        h(doc, 'summary', undefined, ['Prompt']),
        h(doc, 'pre', CSS.plain, [compare.prompt])
      ])
    );
  }
  const winner = compare.aggregate?.winner ?? null;
  const columns = h(doc, 'div', CSS.columns, [], {
    style: `--jp-MemoriesMagics-columns: ${Math.max(1, Math.min(compare.results.length, 4))}`
  });
  const rendered = compare.results.map((result, index) => {
      const column = h(doc, 'section', CSS.column, [], { 'data-index': String(index) });
      if (index === winner) {
        column.classList.add(CSS.winner);
      }
      column.append(
        h(doc, 'header', CSS.columnHeader, [
          h(doc, 'span', 'jp-MemoriesMagics-index', [String(index + 1)]),
          h(doc, 'span', CSS.model, [result.model]),
          index === winner ? h(doc, 'span', `${CSS.badge} jp-mod-winner`, ['winner']) : null
        ])
      );
      if (result.error) {
        column.append(h(doc, 'div', CSS.error, [result.error]));
      } else {
        column.append(renderAnswer(doc, result));
      }
      column.append(renderFooter(doc, result, context, () => host));
      return column;
    });
  columns.append(...rendered);
  root.append(columns);

  if (compare.aggregate) {
    const agg = compare.aggregate;
    const section = h(doc, 'section', CSS.aggregate, [
      h(doc, 'header', undefined, [agg.line])
    ]);
    if (agg.text) {
      const answer = h(doc, 'div', `${CSS.answer} jp-RenderedHTMLCommon jp-RenderedMarkdown`);
      renderSafeMarkdown(answer, agg.text);
      section.append(answer);
    }
    root.append(section);
  }

  if (compare.results.length >= 2) {
    root.append(renderDiff(doc, compare));
  }
  host.replaceChildren(root);
}
