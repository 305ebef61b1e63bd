/**
 * Word, line and character diffs of two answers in the browser, by jsdiff, in the shape of
 * the kernel's `diff` payload (memories_magics/diff.py): `[op, text]` pairs where the equal
 * and delete texts join to `a` and the equal and insert texts join to `b`.
 */

import { Change, diffChars, diffLines, diffWordsWithSpace } from 'diff';

import type { DiffOp } from './payload.types';
import { DIFF_MODES, DIFF_OPS, DiffMode } from './vocabulary';

export type { DiffOp };
export { DIFF_MODES };

/** Past this many milliseconds a diff gives up precision: one deletion, one insertion. */
export const DIFF_TIMEOUT_MS = 1000;

const DIFFERS: Record<DiffMode, (a: string, b: string, o: { timeout: number }) => Change[] | undefined> = {
  word: (a, b, o) => diffWordsWithSpace(a, b, o),
  line: (a, b, o) => diffLines(a, b, o),
  char: (a, b, o) => diffChars(a, b, o)
};

/**
 * The diff of two texts in one mode. Runs of one op are merged, deletions come before
 * insertions, and (word mode) single spaces between two changes join the change, so
 * `often classified` → `usually called` reads as one replacement, as the kernel's does.
 */
export function diffTexts(
  a: string,
  b: string,
  mode: DiffMode = 'word',
  timeout: number = DIFF_TIMEOUT_MS
): DiffOp[] {
  const changes: Change[] = DIFFERS[mode](a, b, { timeout }) ?? [
    { value: a, removed: true, added: false, count: 1 },
    { value: b, removed: false, added: true, count: 1 }
  ];
  const ops: DiffOp[] = changes.map(c => [c.added ? 'insert' : c.removed ? 'delete' : 'equal', c.value]);
  return merge(mode === 'word' ? absorbSpaces(ops) : ops);
}

function absorbSpaces(ops: DiffOp[]): DiffOp[] {
  return ops.flatMap(([op, text], i): DiffOp[] =>
    op === 'equal' &&
    /^\s+$/.test(text) &&
    i > 0 &&
    i < ops.length - 1 &&
    ops[i - 1][0] !== 'equal' &&
    ops[i + 1][0] !== 'equal'
      ? [
          ['delete', text],
          ['insert', text]
        ]
      : [[op, text]]
  );
}

function merge(ops: DiffOp[]): DiffOp[] {
  const out: DiffOp[] = [];
  let deleted = '';
  let inserted = '';
  const flush = () => {
    if (deleted) {
      out.push(['delete', deleted]);
    }
    if (inserted) {
      out.push(['insert', inserted]);
    }
    deleted = inserted = '';
  };
  for (const [op, text] of ops) {
    if (op === 'delete') {
      deleted += text;
    } else if (op === 'insert') {
      inserted += text;
    } else if (text) {
      flush();
      const last = out[out.length - 1];
      if (last && last[0] === 'equal') {
        last[1] += text;
      } else {
        out.push(['equal', text]);
      }
    }
  }
  flush();
  return out;
}

/** The two texts a diff was made from. */
export function sides(ops: DiffOp[]): [string, string] {
  let a = '';
  let b = '';
  for (const [op, text] of ops) {
    if (op !== 'insert') {
      a += text;
    }
    if (op !== 'delete') {
      b += text;
    }
  }
  return [a, b];
}

/** Whether a value is a well-formed list of diff ops. */
export function isDiffOps(value: unknown): value is DiffOp[] {
  return (
    Array.isArray(value) &&
    value.every(
      op =>
        Array.isArray(op) &&
        op.length === 2 &&
        (DIFF_OPS as unknown[]).includes(op[0]) &&
        typeof op[1] === 'string'
    )
  );
}
