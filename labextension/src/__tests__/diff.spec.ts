import { describe, expect, it } from 'vitest';

import { DIFF_MODES, DiffOp, diffTexts, isDiffOps, sides } from '../diff';

/** A small deterministic PRNG, so the randomised checks are reproducible. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomText(rand: () => number, words: string[], n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(words[Math.floor(rand() * words.length)]);
    out.push(rand() < 0.15 ? '\n' : ' ');
  }
  return out.join('');
}

function changed(ops: DiffOp[]): number {
  return ops.filter(([op]) => op !== 'equal').reduce((n, [, t]) => n + t.length, 0);
}

describe('diffTexts', () => {
  it('finds a word change', () => {
    expect(diffTexts('The sky is blue today.', 'The sky is grey today.', 'word')).toEqual([
      ['equal', 'The sky is '],
      ['delete', 'blue'],
      ['insert', 'grey'],
      ['equal', ' today.']
    ]);
  });

  it('keeps a replaced phrase together, as a code review does', () => {
    expect(diffTexts('It is often classified blue.', 'It is usually called blue.')).toEqual([
      ['equal', 'It is '],
      ['delete', 'often classified'],
      ['insert', 'usually called'],
      ['equal', ' blue.']
    ]);
    // punctuation is its own token: a changed full stop doesn't take the word with it
    expect(diffTexts('Paris.', 'Paris!')).toEqual([
      ['equal', 'Paris'],
      ['delete', '.'],
      ['insert', '!']
    ]);
  });

  it('finds a line change', () => {
    expect(diffTexts('a\nb\nc\n', 'a\nB\nc\n', 'line')).toEqual([
      ['equal', 'a\n'],
      ['delete', 'b\n'],
      ['insert', 'B\n'],
      ['equal', 'c\n']
    ]);
  });

  it('finds a char change', () => {
    expect(diffTexts('colour', 'color', 'char')).toEqual([
      ['equal', 'colo'],
      ['delete', 'u'],
      ['equal', 'r']
    ]);
  });

  it('handles identical and empty texts', () => {
    expect(diffTexts('same', 'same')).toEqual([['equal', 'same']]);
    expect(diffTexts('', '')).toEqual([]);
    expect(diffTexts('', 'new')).toEqual([['insert', 'new']]);
    expect(diffTexts('old', '')).toEqual([['delete', 'old']]);
  });

  it('rebuilds both sides, minimally, for random texts in every mode', () => {
    const rand = prng(42);
    const words = ['alpha', 'beta', 'gamma', 'delta', 'é', '🎉', 'x', 'the', 'a'];
    for (let round = 0; round < 60; round++) {
      const a = randomText(rand, words, Math.floor(rand() * 40));
      const b = randomText(rand, words, Math.floor(rand() * 40));
      for (const mode of DIFF_MODES) {
        const ops = diffTexts(a, b, mode);
        expect(sides(ops)).toEqual([a, b]);
        expect(isDiffOps(ops)).toBe(true);
        // merged: no two neighbours share an op, and nothing is empty
        for (let i = 1; i < ops.length; i++) {
          expect(ops[i][0] === ops[i - 1][0]).toBe(false);
        }
        expect(ops.every(([, text]) => text.length > 0)).toBe(true);
      }
      // a diff against itself is all equal
      expect(changed(diffTexts(a, a, 'char'))).toBe(0);
    }
  });

  it('gives up precision, not correctness, past the time limit', () => {
    const rand = prng(3);
    const a = randomText(rand, ['alpha', 'beta', 'gamma'], 20000);
    const b = randomText(rand, ['alpha', 'beta', 'gamma'], 20000);
    const coarse = diffTexts(a, b, 'char', 1);
    expect(sides(coarse)).toEqual([a, b]);
    expect(coarse).toEqual([
      ['delete', a],
      ['insert', b]
    ]);
  });

  it('is fast enough for long answers', () => {
    const rand = prng(7);
    const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
    const a = randomText(rand, words, 3000);
    const b = randomText(rand, words, 3000);
    const started = Date.now();
    const ops = diffTexts(a, b, 'char');
    expect(sides(ops)).toEqual([a, b]);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('isDiffOps', () => {
  it('accepts ops and rejects anything else', () => {
    expect(isDiffOps([['equal', 'a'], ['insert', 'b']])).toBe(true);
    expect(isDiffOps([])).toBe(true);
    expect(isDiffOps([['replace', 'a']])).toBe(false);
    expect(isDiffOps([['equal', 1]])).toBe(false);
    expect(isDiffOps('x')).toBe(false);
    expect(isDiffOps(null)).toBe(false);
  });
});
