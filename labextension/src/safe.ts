/**
 * Showing untrusted model text: as written, and inert.
 *
 * Model Markdown is rendered by markdown-it with raw HTML disabled (the same parser family
 * and setting as the kernel's markdown-it-py), so `a<b and b>c`, `<div>`, `<script>` or
 * `<start_of_image>` are text, while **formatting** and `inline code` work. The HTML that
 * comes out, and the HTML of `-f html` answers, is cleaned by DOMPurify with our allow-list
 * (formatting elements; no style, id, event handler, data-* or form element), in an inert
 * document where nothing loads. Then links keep only http(s), mailto and #fragment targets
 * and open in a new tab without referrer, and images become placeholders: nothing is fetched.
 */

import DOMPurify, { Config } from 'dompurify';
import MarkdownIt from 'markdown-it';

/** Elements kept (with the attributes below); others are dropped, their text kept. */
const TAGS = [
  'a', 'abbr', 'b', 'blockquote', 'br', 'caption', 'cite', 'code', 'col', 'colgroup', 'dd',
  'del', 'details', 'dfn', 'div', 'dl', 'dt', 'em', 'figcaption', 'figure', 'h1', 'h2', 'h3',
  'h4', 'h5', 'h6', 'hr', 'i', 'img', 'ins', 'kbd', 'li', 'mark', 'ol', 'p', 'pre', 'q', 's',
  'samp', 'small', 'span', 'strike', 'strong', 'sub', 'summary', 'sup', 'table', 'tbody',
  'td', 'tfoot', 'th', 'thead', 'tr', 'u', 'ul', 'var', 'wbr'
]; // prettier-ignore

/** `img` is kept only until it is replaced by a placeholder (in the inert document). */
const ATTRIBUTES = ['title', 'href', 'alt', 'src', 'span', 'open', 'start', 'colspan',
  'rowspan', 'align', 'class']; // prettier-ignore

const CONFIG: Config = {
  ALLOWED_TAGS: TAGS,
  ALLOWED_ATTR: ATTRIBUTES,
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  // href and src must be web, mail or #fragment targets; these others are checked below.
  ALLOWED_URI_REGEXP: /^(?:https?:\/\/[^/\\]|mailto:|#.)/i,
  ADD_URI_SAFE_ATTR: ['align', 'start', 'span', 'colspan', 'rowspan', 'open']
};

/** Highlighting classes: `language-python`, CodeMirror's `tok-*`/`cm-*` and generated `ͼ1a`. */
const SAFE_CLASS = /^(language-[\w+#.-]+|tok-[\w-]+|cm-[\w-]+|ͼ[0-9a-z]+)$/;
const CLASSED = new Set(['code', 'pre', 'span']);
const ALIGN = /^(left|right|center)$/i;
const NUMBER = /^-?\d{1,9}$/;

/** Class names this extension adds to neutralised content (for styling and tests). */
export const BLOCKED_LINK_CLASS = 'jp-MemoriesMagics-blockedLink';
export const BLOCKED_IMAGE_CLASS = 'jp-MemoriesMagics-blockedImage';

const markdown = new MarkdownIt({ html: false, linkify: false });

/**
 * The href to keep for a link written by a model, or null to drop it: absolute http(s),
 * mailto and in-page `#fragment` targets, after removing the control characters and
 * whitespace that browsers ignore inside a scheme (`java\tscript:` is `javascript:`).
 */
export function safeHref(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) {
    return null;
  }
  // eslint-disable-next-line no-control-regex
  const compact = raw.replace(/[\u0000-\u0020\u007f-\u009f]/g, '');
  return /^#[^#]+$/.test(compact) || /^(https?:\/\/[^/\\]|mailto:)/i.test(compact)
    ? compact
    : null;
}

let purifier: ReturnType<typeof DOMPurify> | null = null;

/** Our DOMPurify instance, with the attribute checks DOMPurify has no setting for. */
function purify(): ReturnType<typeof DOMPurify> {
  if (purifier === null) {
    purifier = DOMPurify(window);
    purifier.addHook('uponSanitizeAttribute', (node, data) => {
      const name = node.nodeName.toLowerCase();
      const value = data.attrValue;
      if (data.attrName === 'class') {
        const kept = CLASSED.has(name) ? value.split(/\s+/).filter(c => SAFE_CLASS.test(c)) : [];
        data.attrValue = kept.join(' ');
        data.keepAttr = kept.length > 0;
      } else if (data.attrName === 'align') {
        data.keepAttr = ALIGN.test(value);
      } else if (['start', 'span', 'colspan', 'rowspan'].includes(data.attrName)) {
        data.keepAttr = NUMBER.test(value);
      } else if (data.attrName === 'src') {
        data.keepAttr = name === 'img';
      }
    });
  }
  return purifier;
}

function hardenLink(link: Element): void {
  const href = safeHref(link.getAttribute('href'));
  if (href === null) {
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
function imagePlaceholder(image: Element): Element {
  const doc = image.ownerDocument;
  const placeholder = doc.createElement('span');
  placeholder.className = BLOCKED_IMAGE_CLASS;
  placeholder.title = 'Images in model answers are not loaded';
  const alt = (image.getAttribute('alt') || '').trim();
  placeholder.append(`[image${alt ? `: ${alt}` : ''}]`);
  const src = safeHref(image.getAttribute('src'));
  if (src !== null && !src.startsWith('#')) {
    const link = doc.createElement('a');
    link.textContent = 'open';
    link.setAttribute('href', src);
    hardenLink(link);
    placeholder.append(' ', link);
  }
  return placeholder;
}

/** Clean an HTML string into a fragment of `doc`; nothing in it runs or loads. */
export function harden(html: string, doc: Document = document): DocumentFragment {
  // DOMPurify parses in an inert document: images are replaced before the fragment is adopted.
  const fragment = purify().sanitize(html, { ...CONFIG, RETURN_DOM_FRAGMENT: true });
  for (const image of Array.from(fragment.querySelectorAll('img'))) {
    image.replaceWith(imagePlaceholder(image));
  }
  fragment.querySelectorAll('a').forEach(hardenLink);
  return doc.importNode(fragment, true);
}

/** Model Markdown as HTML, with any raw HTML in it escaped (shown as written). */
export function markdownHtml(source: string): string {
  return markdown.render(source);
}

/** Render untrusted Markdown into `host` (its previous content is replaced). */
export function renderSafeMarkdown(host: HTMLElement, source: string): void {
  host.replaceChildren(harden(markdownHtml(source), host.ownerDocument));
}

/** Render untrusted HTML into `host` (its previous content is replaced). */
export function renderSafeHtml(host: HTMLElement, html: string): void {
  host.replaceChildren(harden(html, host.ownerDocument));
}
