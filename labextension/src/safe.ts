/**
 * Making untrusted model text safe to show.
 *
 * Model answers are untrusted input. JupyterLab renders the Markdown and HTML outputs of a
 * notebook you just ran as trusted, so this extension never hands model text to a trusted
 * renderer. The pipeline is:
 *
 *   Markdown source --(JupyterLab's Markdown parser)--> HTML string
 *     --(JupyterLab's ISanitizer)--> HTML string
 *     --(harden(): parsed into an inert <template>, then an allowlist walk)--> DOM fragment
 *
 * `harden()` is enough on its own: it keeps only a short list of formatting elements and
 * attributes, drops every event handler, `style`, `id`, `data-*` (JupyterLab's command-linker
 * attributes included), replaces every image with a placeholder (nothing is fetched), and keeps
 * a link's target only for http(s) and mailto. The sanitizer in front of it is a second layer.
 * Parsing happens in a <template>, whose content is inert: no image loads and no script runs
 * before the walk has removed them.
 */

import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

/** Elements removed together with everything inside them. */
const DROP = new Set([
  'applet',
  'area',
  'audio',
  'base',
  'button',
  'canvas',
  'dialog',
  'embed',
  'form',
  'frame',
  'frameset',
  'head',
  'iframe',
  'link',
  'map',
  'math',
  'meta',
  'noembed',
  'noframes',
  'noscript',
  'object',
  'option',
  'portal',
  'script',
  'select',
  'source',
  'style',
  'svg',
  'template',
  'textarea',
  'title',
  'track',
  'video',
  'xmp'
]);

/** Elements kept (with filtered attributes); anything else is replaced by its children. */
const KEEP = new Set([
  'a',
  'abbr',
  'b',
  'blockquote',
  'br',
  'caption',
  'cite',
  'code',
  'col',
  'colgroup',
  'dd',
  'del',
  'details',
  'dfn',
  'div',
  'dl',
  'dt',
  'em',
  'figcaption',
  'figure',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'i',
  'input',
  'ins',
  'kbd',
  'li',
  'mark',
  'ol',
  'p',
  'pre',
  'q',
  's',
  'samp',
  'small',
  'span',
  'strike',
  'strong',
  'sub',
  'summary',
  'sup',
  'table',
  'tbody',
  'td',
  'tfoot',
  'th',
  'thead',
  'tr',
  'u',
  'ul',
  'var',
  'wbr'
]);

/** Attributes allowed per element ('*' applies to all kept elements). */
const ATTRIBUTES: Record<string, Set<string>> = {
  '*': new Set(['title']),
  a: new Set(['href']),
  col: new Set(['span']),
  details: new Set(['open']),
  input: new Set(['type', 'checked']),
  ol: new Set(['start']),
  td: new Set(['colspan', 'rowspan', 'align']),
  th: new Set(['colspan', 'rowspan', 'align'])
};

/** Elements that may keep syntax-highlighting classes. */
const CLASSED = new Set(['code', 'pre', 'span']);

/** Highlighting classes: `language-python`, CodeMirror's `tok-*`/`cm-*` and generated `ͼ1a`. */
const SAFE_CLASS = /^(language-[\w+#.-]+|tok-[\w-]+|cm-[\w-]+|ͼ[0-9a-z]+)$/;

const ALIGN = new Set(['left', 'right', 'center']);

/** Class names this extension adds to neutralised content (for styling and tests). */
export const BLOCKED_LINK_CLASS = 'jp-MemoriesMagics-blockedLink';
export const BLOCKED_IMAGE_CLASS = 'jp-MemoriesMagics-blockedImage';

/**
 * The href to keep for a link written by a model, or null to drop it.
 *
 * Only absolute http(s), mailto and in-page `#fragment` targets survive. Control characters
 * and whitespace are removed first, since browsers ignore them inside a scheme
 * (`java\tscript:` is `javascript:`).
 */
export function safeHref(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) {
    return null;
  }
  // eslint-disable-next-line no-control-regex
  const compact = raw.replace(/[\u0000-\u0020\u007f-\u009f]/g, '');
  if (/^#[^#]*$/.test(compact) && compact.length > 1) {
    return compact;
  }
  if (/^(https?:\/\/[^/\\]|mailto:)/i.test(compact)) {
    return compact;
  }
  return null;
}

function filterClasses(element: Element): void {
  const name = element.localName;
  const kept = CLASSED.has(name)
    ? Array.from(element.classList).filter(c => SAFE_CLASS.test(c))
    : [];
  element.removeAttribute('class');
  if (kept.length) {
    element.setAttribute('class', kept.join(' '));
  }
}

function filterAttributes(element: Element): void {
  const name = element.localName;
  const allowed = ATTRIBUTES[name];
  for (const attr of Array.from(element.attributes)) {
    const attrName = attr.name.toLowerCase();
    if (attrName === 'class') {
      continue;
    }
    if (!(ATTRIBUTES['*'].has(attrName) || (allowed && allowed.has(attrName)))) {
      element.removeAttribute(attr.name);
    }
  }
  filterClasses(element);
  if (name === 'td' || name === 'th') {
    const align = element.getAttribute('align');
    if (align !== null && !ALIGN.has(align.toLowerCase())) {
      element.removeAttribute('align');
    }
  }
  if (name === 'ol') {
    const start = element.getAttribute('start');
    if (start !== null && !/^-?\d{1,9}$/.test(start)) {
      element.removeAttribute('start');
    }
  }
  if (name === 'col') {
    const span = element.getAttribute('span');
    if (span !== null && !/^\d{1,3}$/.test(span)) {
      element.removeAttribute('span');
    }
  }
}

function hardenLink(link: Element): void {
  const href = safeHref(link.getAttribute('href'));
  if (href === null) {
    // No target left (ours or the sanitizer's doing): show the text, marked as a dead link.
    link.removeAttribute('href');
    link.setAttribute('class', BLOCKED_LINK_CLASS);
    link.setAttribute('title', 'Link removed: only http(s) and mailto links are kept');
    return;
  }
  link.setAttribute('href', href);
  if (!href.startsWith('#')) {
    link.setAttribute('target', '_blank');
    link.setAttribute('rel', 'noopener noreferrer nofollow');
    link.setAttribute('referrerpolicy', 'no-referrer');
  }
}

/** A visible stand-in for an image: its alt text, and a link to open it deliberately. */
function imagePlaceholder(doc: Document, image: Element): Element {
  const placeholder = doc.createElement('span');
  placeholder.className = BLOCKED_IMAGE_CLASS;
  const alt = (image.getAttribute('alt') || '').trim();
  const src = safeHref(image.getAttribute('src'));
  placeholder.title = 'Images in model answers are not loaded';
  placeholder.append(doc.createTextNode(`[image${alt ? `: ${alt}` : ''}]`));
  if (src !== null && !src.startsWith('#')) {
    const link = doc.createElement('a');
    link.textContent = 'open';
    link.setAttribute('href', src);
    hardenLink(link);
    placeholder.append(doc.createTextNode(' '), link);
  }
  return placeholder;
}

function walk(doc: Document, parent: Node): void {
  for (const child of Array.from(parent.childNodes)) {
    if (child.nodeType === 3 /* text */) {
      continue;
    }
    if (child.nodeType !== 1 /* element */) {
      // comments, processing instructions, CDATA
      child.remove();
      continue;
    }
    const element = child as Element;
    const name = element.localName;
    if (element.namespaceURI !== 'http://www.w3.org/1999/xhtml' || DROP.has(name)) {
      element.remove();
      continue;
    }
    if (name === 'img' || name === 'image' || name === 'picture') {
      element.replaceWith(imagePlaceholder(doc, element));
      continue;
    }
    if (!KEEP.has(name)) {
      // Unknown element: keep its (hardened) children, lose the element.
      walk(doc, element);
      element.replaceWith(...Array.from(element.childNodes));
      continue;
    }
    if (name === 'input') {
      if ((element.getAttribute('type') || '').toLowerCase() !== 'checkbox') {
        element.remove();
        continue;
      }
    }
    filterAttributes(element);
    if (name === 'input') {
      element.setAttribute('disabled', '');
    }
    if (name === 'a') {
      hardenLink(element);
    }
    walk(doc, element);
  }
}

/**
 * Parse an HTML string without running or loading anything, and keep only safe content.
 *
 * @returns a fragment owned by `doc`, ready to be appended.
 */
export function harden(html: string, doc: Document = document): DocumentFragment {
  const template = doc.createElement('template');
  template.innerHTML = html;
  const content = template.content;
  walk(content.ownerDocument, content);
  return doc.importNode(content, true);
}

/** What rendering needs from JupyterLab (all optional, so tests can run without it). */
export interface ISafeRenderContext {
  sanitizer?: IRenderMime.ISanitizer | null;
  markdownParser?: IRenderMime.IMarkdownParser | null;
}

/** HTML-escape text. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Minimal stand-in when no Markdown parser is available: paragraphs of escaped text. */
function plainParagraphs(text: string): string {
  return text
    .split(/\n{2,}/)
    .map(p => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`)
    .join('');
}

/** Sanitize (when a sanitizer is given), then harden. */
export function safeFragment(
  html: string,
  context: ISafeRenderContext,
  doc: Document = document
): DocumentFragment {
  const sanitized = context.sanitizer ? context.sanitizer.sanitize(html) : html;
  return harden(sanitized, doc);
}

/** Render untrusted Markdown into `host` (its previous content is replaced). */
export async function renderSafeMarkdown(
  host: HTMLElement,
  source: string,
  context: ISafeRenderContext
): Promise<void> {
  let html: string;
  try {
    html = context.markdownParser
      ? await context.markdownParser.render(source)
      : plainParagraphs(source);
  } catch {
    html = plainParagraphs(source);
  }
  host.replaceChildren(safeFragment(html, context, host.ownerDocument));
}

/** Render untrusted HTML into `host` (its previous content is replaced). */
export function renderSafeHtml(host: HTMLElement, html: string, context: ISafeRenderContext): void {
  host.replaceChildren(safeFragment(html, context, host.ownerDocument));
}
