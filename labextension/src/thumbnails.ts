/**
 * The thumbnails of the images a request sent, above its answer (the kernel's static HTML
 * shows the same: memories_magics/display/thumbnails.py). A notebook file can hold anything,
 * so an image is shown only when its URL is a base64 data URL of a raster image, as the
 * payload schema declares it (pattern and maxLength, read from the schema, never copied);
 * anything else is dropped. Each is an `<img>` built through DOM properties: the name is text
 * in its alt and title, nothing is parsed as HTML, and a data URL fetches nothing.
 */

import payloadSchema from '../../memories_magics/payload.schema.json';
import { h } from './dom';
import type { SentImage } from './payload.types';
import { VOCABULARY } from './vocabulary';

const SENT = payloadSchema.definitions.sent;
const URL_RULE = payloadSchema.definitions.sentImage.properties.url;
/** The data URLs shown: `data:image/(png|jpeg|gif|webp);base64,…`, anchored. */
const DATA_URL = new RegExp(URL_RULE.pattern);
/** The longest URL shown, and the most images. */
export const MAX_URL_CHARS: number = URL_RULE.maxLength;
export const MAX_IMAGES: number = SENT.maxItems;
const SIDE: number = VOCABULARY.thumbnail_side;

export const SENT_CLASS = 'jp-MemoriesMagics-sent';

/** `raw` when it is a data URL we show, else null. */
export function thumbnailUrl(raw: unknown): string | null {
  return typeof raw === 'string' && raw.length <= MAX_URL_CHARS && DATA_URL.test(raw) ? raw : null;
}

function size(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : null;
}

function sentImage(value: unknown): SentImage | null {
  if (value === null || typeof value !== 'object') {
    return null;
  }
  const item = value as Record<string, unknown>;
  const [url, width, height] = [thumbnailUrl(item.url), size(item.width), size(item.height)];
  if (url === null || width === null || height === null) {
    return null;
  }
  return { name: typeof item.name === 'string' ? item.name : 'image', width, height, url };
}

/** The payload's `sent`, each image checked (the first MAX_IMAGES; [] when none). */
export function readSent(value: unknown): SentImage[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value
    .slice(0, MAX_IMAGES)
    .map(sentImage)
    .filter((image): image is SentImage => image !== null);
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
    const img = doc.createElement('img');
    const [width, height] = box(image);
    img.src = image.url;
    img.alt = image.name;
    img.title = `${image.name} (${image.width}×${image.height})`;
    img.width = width;
    img.height = height;
    return img;
  });
  const count = sent.length;
  const label = `sent ${count} image${count === 1 ? '' : 's'}`;
  return [h(doc, 'div', SENT_CLASS, images, { role: 'group', 'aria-label': label })];
}
