/**
 * A small word/line/char diff for comparing two model answers in the browser.
 *
 * Same output shape as the Python side's `diff` payload: a list of `[op, text]` pairs with
 * op in equal/insert/delete, where joining the equal+delete texts gives `a` and joining the
 * equal+insert texts gives `b`.
 */

export type DiffMode = 'word' | 'line' | 'char';
export type DiffOpName = 'equal' | 'insert' | 'delete';
export type DiffOp = [DiffOpName, string];

export const DIFF_MODES: DiffMode[] = ['word', 'line', 'char'];

/**
 * Above this many edits the diff gives up on precision and reports the differing middle as
 * one deletion and one insertion (memory grows with the square of the edit count).
 */
export const MAX_EDITS = 2000;

/** Split a text into the tokens of a mode; the tokens join back to the text. */
export function tokenize(text: string, mode: DiffMode): string[] {
  if (!text) {
    return [];
  }
  if (mode === 'char') {
    return Array.from(text); // code points, so an emoji is one token
  }
  if (mode === 'line') {
    return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  }
  // words and the whitespace runs between them
  return text.match(/\s+|[^\s]+/g) ?? [];
}

/**
 * Myers' O(ND) shortest edit script over two token arrays.
 * Returns the ops token by token (not yet merged), or null past `maxEdits` edits.
 */
function myers(a: string[], b: string[], maxEdits: number): DiffOp[] | null {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  // trace[d] holds v[k] for k in [-d-1, d+1] as it was before step d: trace[d][k + d + 1].
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    if (d > maxEdits) {
      return null;
    }
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1])) {
        x = v[offset + k + 1]; // down: insertion
      } else {
        x = v[offset + k - 1] + 1; // right: deletion
      }
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  // Walk the trace backwards to recover the path.
  const ops: DiffOp[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d];
    const at = (k: number) => vd[k + d + 1];
    const k = x - y;
    let prevK: number;
    if (k === -d || (k !== d && at(k - 1) < at(k + 1))) {
      prevK = k + 1;
    } else {
      prevK = k - 1;
    }
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push(['equal', a[x - 1]]);
      x--;
      y--;
    }
    if (d > 0) {
      if (x === prevX) {
        ops.push(['insert', b[y - 1]]);
      } else {
        ops.push(['delete', a[x - 1]]);
      }
    }
    x = prevX;
    y = prevY;
  }
  return ops.reverse();
}

/** Merge runs of the same op; within a change, deletions come before insertions. */
function merge(ops: DiffOp[]): DiffOp[] {
  const out: DiffOp[] = [];
  let del = '';
  let ins = '';
  const flush = () => {
    if (del) {
      out.push(['delete', del]);
    }
    if (ins) {
      out.push(['insert', ins]);
    }
    del = '';
    ins = '';
  };
  for (const [op, text] of ops) {
    if (op === 'delete') {
      del += text;
    } else if (op === 'insert') {
      ins += text;
    } else {
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

/** The diff of two texts in one mode. */
export function diffTexts(
  a: string,
  b: string,
  mode: DiffMode = 'word',
  maxEdits: number = MAX_EDITS
): DiffOp[] {
  if (a === b) {
    return a ? [['equal', a]] : [];
  }
  const ta = tokenize(a, mode);
  const tb = tokenize(b, mode);
  // A common prefix and suffix cost nothing; strip them before the quadratic-ish part.
  let start = 0;
  while (start < ta.length && start < tb.length && ta[start] === tb[start]) {
    start++;
  }
  let endA = ta.length;
  let endB = tb.length;
  while (endA > start && endB > start && ta[endA - 1] === tb[endB - 1]) {
    endA--;
    endB--;
  }
  const middleA = ta.slice(start, endA);
  const middleB = tb.slice(start, endB);
  const middle: DiffOp[] = myers(middleA, middleB, maxEdits) ?? [
    ['delete', middleA.join('')],
    ['insert', middleB.join('')]
  ];
  const ops: DiffOp[] = [];
  if (start > 0) {
    ops.push(['equal', ta.slice(0, start).join('')]);
  }
  ops.push(...middle);
  if (endA < ta.length) {
    ops.push(['equal', ta.slice(endA).join('')]);
  }
  return merge(ops.filter(([, text]) => text !== ''));
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
        (op[0] === 'equal' || op[0] === 'insert' || op[0] === 'delete') &&
        typeof op[1] === 'string'
    )
  );
}
