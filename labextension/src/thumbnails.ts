/**
 * The thumbnails of the images a request sent, above its answer (the kernel's static HTML
 * shows the same: memories_magics/display/thumbnails.py). A notebook file can hold anything,
 * so an image is shown only when its URL is a base64 PNG data URL of a thumbnail's size, as
 * the payload schema declares it (pattern and maxLength, read from the schema, never copied);
 * anything else is dropped. Each is an `<img>` whose attributes are set one by one: the
 * name is text in its alt and title, nothing is parsed as HTML, and a data URL fetches
 * nothing.
 */

import payloadSchema from '../../memories_magics/payload.schema.json';
import { h } from './dom';
import { dict, int, list, str } from './read';
import type { SentImage } from './payload.types';
import { VOCABULARY } from './vocabulary';

const SENT = payloadSchema.definitions.sent;
const URL_RULE = payloadSchema.definitions.sentImage.properties.url;
/** The data URLs shown: `data:image/png;base64,…`, anchored. */
const DATA_URL = new RegExp(URL_RULE.pattern);
/** The longest URL shown, and the most images. */
export const MAX_URL_CHARS: number = URL_RULE.maxLength;
export const MAX_IMAGES: number = SENT.maxItems;
const SIDE: number = VOCABULARY.thumbnail_side;

export const SENT_CLASS = 'jp-MemoriesMagics-sent';

/** The 8 bytes every PNG starts with, then its IHDR chunk's length and type. */
const PNG_START = '\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR';

/**
 * The pixel size a PNG data URL's IHDR declares (its first 24 bytes: the first 32 base64
 * characters after the prefix), or null when they are not a PNG's.
 */
function pngSize(url: string): [number, number] | null {
  const start = url.indexOf(',') + 1;
  let head: string;
  try {
    head = atob(url.slice(start, start + 32));
  } catch {
    return null;
  }
  if (head.length < 24 || !head.startsWith(PNG_START)) {
    return null;
  }
  const word = (at: number) =>
    ((head.charCodeAt(at) << 24) >>> 0) +
    (head.charCodeAt(at + 1) << 16) +
    (head.charCodeAt(at + 2) << 8) +
    head.charCodeAt(at + 3);
  return [word(16), word(20)];
}

/**
 * `raw` when it is a data URL we show, else null: a PNG as the kernel writes thumbnails,
 * no larger than a thumbnail in pixels (a small file can declare a huge image, which the
 * browser would allocate when it decodes it).
 */
export function thumbnailUrl(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.length > MAX_URL_CHARS || !DATA_URL.test(raw)) {
    return null;
  }
  const pixels = pngSize(raw);
  return pixels !== null && pixels.every(side => side >= 1 && side <= SIDE) ? raw : null;
}

function size(value: unknown): number | null {
  const n = int(value);
  return n !== null && Number.isSafeInteger(n) && n > 0 ? n : null;
}

function sentImage(value: unknown): SentImage | null {
  const item = dict(value);
  const [url, width, height] = [thumbnailUrl(item.url), size(item.width), size(item.height)];
  if (url === null || width === null || height === null) {
    return null;
  }
  return { name: str(item.name) ?? 'image', width, height, url };
}

/** The payload's `sent`, each image checked (the first MAX_IMAGES; [] when none). */
export function readSent(value: unknown): SentImage[] {
  return Array.isArray(value) ? list(value.slice(0, MAX_IMAGES), sentImage) : [];
}

/** The thumbnail's box: the image as sent, scaled down to at most SIDE pixels a side. */
function box(image: SentImage): [number, number] {
  const scale = Math.min(1, SIDE / Math.max(image.width, image.height));
  const side = (pixels: number) => Math.max(1, Math.round(pixels * scale));
  return [side(image.width), side(image.height)];
}

/** The row of thumbnails (nothing when no image was sent), to go above the answer. */
export function renderSent(doc: Document, sent: SentImage[]): HTMLElement[] {
  if (!sent.length) {
    return [];
  }
  const images = sent.map(image => {
    const [width, height] = box(image);
    return h(doc, 'img', undefined, [], {
      src: image.url,
      alt: image.name,
      title: `${image.name} (${image.width}×${image.height})`,
      width: String(width),
      height: String(height)
    });
  });
  const count = sent.length;
  const label = `sent ${count} image${count === 1 ? '' : 's'}`;
  return [h(doc, 'div', SENT_CLASS, images, { role: 'group', 'aria-label': label })];
}
