/**
 * Building DOM from untrusted data: every string becomes a text node, never markup.
 */

export type Child = Node | string | null | undefined | false;

/** Create an element with classes and children (strings become text nodes). */
export function h(
  doc: Document,
  tag: string,
  className?: string,
  children: Child[] = [],
  attrs: Record<string, string> = {}
): HTMLElement {
  const el = doc.createElement(tag);
  if (className) {
    el.className = className;
  }
  for (const [name, value] of Object.entries(attrs)) {
    el.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    el.append(typeof child === 'string' ? doc.createTextNode(child) : child);
  }
  return el;
}

