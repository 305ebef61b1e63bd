/**
 * Reading untrusted JSON (a notebook file can hold anything): each reader gives the value
 * when it has the expected type, else a neutral one (an empty object or list, or null).
 */

export type Dict = Record<string, unknown>;

/** An object (not an array), else {}. */
export function dict(value: unknown): Dict {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Dict)
    : {};
}

/** A string, else null. */
export function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** A finite number, else null. */
export function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** An integer, else null. */
export function int(value: unknown): number | null {
  const n = num(value);
  return n !== null && Number.isInteger(n) ? n : null;
}

/** One of `allowed`, else null. */
export function oneOf<T extends string>(value: unknown, allowed: readonly T[]): T | null {
  return (allowed as readonly unknown[]).includes(value) ? (value as T) : null;
}

/** The items of an array that `read` accepts (a non-array: none). */
export function list<T>(value: unknown, read: (item: unknown) => T | null): T[] {
  return Array.isArray(value) ? value.map(read).filter((item): item is T => item !== null) : [];
}

