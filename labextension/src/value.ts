/**
 * A --schema answer as the kernel's own display shows it: the validated value as tables (an
 * object as field/value rows, a list of objects one row each, nested values as tables inside
 * cells), the raw JSON folded away under it; or the validation errors in one block above the
 * answer. Every key and leaf is a text node; the bounds are vocabulary.json's value_table,
 * applied here again because a notebook file can hold anything.
 */

import { h } from './dom';
import type { SchemaValue } from './payload.types';
import { VALUE_TABLE } from './vocabulary';

export const VALUE_CSS = {
  root: 'jp-MemoriesMagics-schema',
  table: 'jp-MemoriesMagics-valueTable',
  more: 'jp-MemoriesMagics-valueMore',
  invalid: 'jp-MemoriesMagics-invalid',
  raw: 'jp-MemoriesMagics-raw'
};

type Dict = Record<string, unknown>;

function isDict(value: unknown): value is Dict {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Text cut to the leaf limit (in characters, never inside a surrogate pair). */
function cut(text: string): string {
  const max = VALUE_TABLE.max_leaf_chars;
  if (text.length <= max) {
    return text;
  }
  const chars = Array.from(text.slice(0, max * 2));
  return chars.length > max || text.length > max * 2 ? chars.slice(0, max).join('') + '…' : text;
}

/** A value as compact JSON text (a value too deep for JSON.stringify as a mark). */
function compact(value: unknown): string {
  try {
    return cut(JSON.stringify(value) ?? String(value));
  } catch {
    return '(too deeply nested to show)';
  }
}

function leaf(value: unknown): string {
  return typeof value === 'string' ? cut(value) : compact(value);
}

function more(doc: Document, count: number): HTMLElement | null {
  const rest = count - VALUE_TABLE.max_rows;
  return rest > 0
    ? h(doc, 'p', VALUE_CSS.more, [
        `… ${rest.toLocaleString('en-US')} more (all of them are in .value)`
      ])
    : null;
}

/** The columns when `value` is a non-empty list of objects (a table), else null. */
function recordColumns(value: unknown[]): string[] | null {
  const shown = value.slice(0, VALUE_TABLE.max_rows);
  if (!shown.length || !shown.every(isDict)) {
    return null;
  }
  const columns = new Set<string>();
  for (const item of shown as Dict[]) {
    for (const key of Object.keys(item)) {
      if (columns.size >= VALUE_TABLE.max_rows) {
        break;
      }
      columns.add(key);
    }
  }
  return [...columns];
}

/** `value` (plain JSON data) as nested tables; strings and numbers as text. */
export function renderValue(doc: Document, value: unknown, depth = 0): Node {
  if (typeof value !== 'object' || value === null) {
    return doc.createTextNode(leaf(value));
  }
  if (depth >= VALUE_TABLE.max_depth) {
    return h(doc, 'code', undefined, [compact(value)]);
  }
  const fragment = doc.createDocumentFragment();
  if (Array.isArray(value)) {
    if (!value.length) {
      return h(doc, 'em', undefined, ['(empty list)']);
    }
    const columns = recordColumns(value);
    if (columns === null) {
      const items = value
        .slice(0, VALUE_TABLE.max_rows)
        .map(item => h(doc, 'li', undefined, [renderValue(doc, item, depth + 1)]));
      fragment.append(h(doc, 'ol', VALUE_CSS.table, items, { start: '0' }));
    } else {
      const head = h(
        doc,
        'tr',
        undefined,
        ['#', ...columns].map(c => h(doc, 'th', undefined, [cut(c)]))
      );
      const rows = (value.slice(0, VALUE_TABLE.max_rows) as Dict[]).map((item, i) =>
        h(doc, 'tr', undefined, [
          h(doc, 'td', undefined, [String(i)]),
          ...columns.map(c =>
            h(doc, 'td', undefined, [
              Object.prototype.hasOwnProperty.call(item, c)
                ? renderValue(doc, item[c], depth + 1)
                : ''
            ])
          )
        ])
      );
      fragment.append(
        h(doc, 'table', VALUE_CSS.table, [
          h(doc, 'thead', undefined, [head]),
          h(doc, 'tbody', undefined, rows)
        ])
      );
    }
    fragment.append(more(doc, value.length) ?? '');
    return fragment;
  }
  const entries = Object.entries(value as Dict);
  if (!entries.length) {
    return h(doc, 'em', undefined, ['(empty object)']);
  }
  const rows = entries
    .slice(0, VALUE_TABLE.max_rows)
    .map(([key, item]) =>
      h(doc, 'tr', undefined, [
        h(doc, 'th', undefined, [cut(key)]),
        h(doc, 'td', undefined, [renderValue(doc, item, depth + 1)])
      ])
    );
  fragment.append(h(doc, 'table', VALUE_CSS.table, [h(doc, 'tbody', undefined, rows)]));
  fragment.append(more(doc, entries.length) ?? '');
  return fragment;
}

/**
 * A --schema answer: the value's tables with the raw JSON in a folded block, or the errors in
 * one block with the answer folded under it. `text` is the raw answer, `cached` whether it
 * came from the cache (a failed answer is never cached as a success).
 */
export function renderSchemaAnswer(
  doc: Document,
  schema: SchemaValue,
  text: string,
  cached: boolean
): HTMLElement {
  const raw = (summary: string) =>
    h(doc, 'details', VALUE_CSS.raw, [
      h(doc, 'summary', undefined, [summary]),
      h(doc, 'pre', 'jp-MemoriesMagics-plain', [text])
    ]);
  if (!schema.ok) {
    const kept = cached ? '' : ' and the answer was not cached';
    return h(doc, 'div', VALUE_CSS.root, [
      h(doc, 'div', VALUE_CSS.invalid, [
        h(doc, 'p', undefined, [
          h(doc, 'strong', undefined, [`The answer does not match the schema ${cut(schema.name)}`]),
          ` (.value is None${kept}):`
        ]),
        h(
          doc,
          'ul',
          undefined,
          schema.errors.map(e => h(doc, 'li', undefined, [cut(e)]))
        )
      ]),
      raw('the answer')
    ]);
  }
  return h(doc, 'div', VALUE_CSS.root, [
    h(doc, 'p', undefined, [h(doc, 'strong', undefined, [cut(schema.name)])]),
    renderValue(doc, schema.value),
    schema.cut
      ? h(doc, 'p', VALUE_CSS.more, [
          'Part of the value is not shown here; all of it is in .value.'
        ])
      : null,
    raw('raw JSON')
  ]);
}
