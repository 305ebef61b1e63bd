import { describe, expect, it } from 'vitest';

import schema from '../../../memories_magics/payload.schema.json';
import { readCompare, readResult } from '../payload';
import { CSS, renderCompare, renderResult } from '../render';
import { MAX_IMAGES, MAX_URL_CHARS, SENT_CLASS, readSent, thumbnailUrl } from '../thumbnails';
import { VOCABULARY } from '../vocabulary';
import { comparePayload, resultPayload, schemaErrors } from './fixtures';

/** A 1×1 PNG, as the kernel's thumbnail_url writes one. */
const PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwAD' +
  'hgGAWjR9awAAAABJRU5ErkJggg==';
/** A PNG's first bytes (signature and IHDR) declaring `width` × `height`, as a data URL. */
function pngUrl(width: number, height: number): string {
  const word = (n: number) =>
    String.fromCharCode((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
  const head = '\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR' + word(width) + word(height);
  return 'data:image/png;base64,' + btoa(head + '\x08\x06\x00\x00\x00' + '\x00'.repeat(4));
}
const SENT = [
  { name: 'fig', width: 640, height: 480, url: PNG },
  { name: '{after}', width: 32, height: 32, url: PNG }
];

async function rendered(payload: Record<string, unknown>, kind: 'result' | 'compare' = 'result') {
  const host = document.createElement('div');
  document.body.append(host);
  if (kind === 'result') {
    await renderResult(host, readResult(payload));
  } else {
    await renderCompare(host, readCompare(payload));
  }
  return host;
}

const images = (host: HTMLElement) => Array.from(host.querySelectorAll('img'));

describe('thumbnails of the images a request sent', () => {
  it('are <img>s of the kernel’s data URLs above the answer, titled name (size)', async () => {
    const payload = resultPayload({ sent: SENT });
    expect(schemaErrors('result', payload)).toBe('');
    const host = await rendered(payload);
    const root = host.querySelector(`.${CSS.result}`)!;
    expect(root.firstElementChild!.className).toBe(SENT_CLASS);
    expect(root.children[1].classList.contains(CSS.answer)).toBe(true);
    const shown = images(host).map(img => [
      img.getAttribute('src'),
      img.alt,
      img.title,
      img.getAttribute('width'),
      img.getAttribute('height')
    ]);
    expect(shown).toEqual([
      [PNG, 'fig', 'fig (640×480)', '96', '72'],
      [PNG, '{after}', '{after} (32×32)', '32', '32'] // never scaled up
    ]);
    expect(root.firstElementChild!.getAttribute('aria-label')).toBe('sent 2 images');
  });

  it('are shown once above a comparison’s columns, none in the columns', async () => {
    const payload = comparePayload({ sent: SENT });
    expect(schemaErrors('compare', payload)).toBe('');
    const host = await rendered(payload, 'compare');
    const root = host.querySelector(`.${CSS.compare}`)!;
    expect(root.firstElementChild!.className).toBe(SENT_CLASS);
    expect(images(host)).toHaveLength(2);
    expect(host.querySelector(`.${CSS.columns} img`)).toBeNull();
  });

  it('are absent when no image was sent', async () => {
    for (const host of [
      await rendered(resultPayload()),
      await rendered(comparePayload(), 'compare'),
      await rendered(resultPayload({ sent: [] }))
    ]) {
      expect(host.querySelector(`img, .${SENT_CLASS}`)).toBeNull();
    }
  });

  it('show only base64 data URLs of raster images; anything else is dropped', () => {
    const hostile: unknown[] = [
      'javascript:alert(1)',
      'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
      'data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+',
      'data:image/svg+xml,<svg onload=alert(1)>',
      'http://127.0.0.1:9/pixel.png',
      'https://example.com/cat.png',
      '//example.com/cat.png',
      `${PNG}" onerror="alert(1)`,
      `${PNG}\n`,
      ` ${PNG}`,
      'DATA:image/png;base64,AAAA',
      'data:image/png,AAAA',
      'data:image/png;base64,',
      'data:image/png;charset=utf-8;base64,AAAA',
      `data:image/png;base64,${'A'.repeat(MAX_URL_CHARS)}`,
      42,
      null,
      { toString: () => PNG },
      [PNG]
    ];
    for (const url of hostile) {
      expect(thumbnailUrl(url), String(url).slice(0, 60)).toBeNull();
    }
    for (const type of ['jpeg', 'gif', 'webp']) {  // the kernel writes PNGs only
      expect(thumbnailUrl(`data:image/${type};base64,R0lGODlh+/8=`)).toBeNull();
    }
    expect(thumbnailUrl(PNG)).toBe(PNG);
    const sent = readSent([
      ...hostile.map(url => ({ name: 'x', width: 1, height: 1, url })),
      { name: 'ok', width: 2, height: 3, url: PNG }
    ]);
    expect(sent).toEqual([{ name: 'ok', width: 2, height: 3, url: PNG }]);
  });

  it('show a PNG only when its header declares a thumbnail’s size (no decompression bomb)', () => {
    const side = VOCABULARY.thumbnail_side;
    for (const [width, height] of [[1, 1], [side, side], [side, 1]]) {
      expect(thumbnailUrl(pngUrl(width, height)), `${width}×${height}`).not.toBeNull();
    }
    const bombs = [[side + 1, 1], [1, side + 1], [20_000, 20_000], [0, 5], [2 ** 31, 1],
      [2 ** 32 - 1, 2 ** 32 - 1]];
    for (const [width, height] of bombs) {
      expect(thumbnailUrl(pngUrl(width, height)), `${width}×${height}`).toBeNull();
    }
    const notPng = 'data:image/png;base64,' + btoa('GIF89a' + '\0'.repeat(30));
    const cutShort = 'data:image/png;base64,' + btoa('\x89PNG\r\n\x1a\n');
    expect(thumbnailUrl(notPng)).toBeNull();
    expect(thumbnailUrl(cutShort)).toBeNull();
  });

  it('drop entries with sizes that are no sizes, and read a missing name as "image"', () => {
    const bad = [0, -1, 1.5, NaN, Infinity, '96', null, 2 ** 60];
    const entries: unknown[] = [
      ...bad.map(width => ({ name: 'w', width, height: 1, url: PNG })),
      ...bad.map(height => ({ name: 'h', width: 1, height, url: PNG })),
      null,
      PNG,
      [PNG],
      { name: 7, width: 5, height: 5, url: PNG }
    ];
    expect(readSent(entries)).toEqual([{ name: 'image', width: 5, height: 5, url: PNG }]);
  });

  it('show a hostile name as text, with no attribute but their own', async () => {
    const name = '"><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">\'';
    const sent = [{ name, width: 10, height: 10, url: PNG }];
    const host = await rendered(resultPayload({ sent }));
    expect(host.querySelector('script')).toBeNull();
    const [img] = images(host);
    expect(images(host)).toHaveLength(1);
    expect(img.alt).toBe(name);
    expect(img.title).toBe(`${name} (10×10)`);
    expect(img.getAttributeNames().sort()).toEqual(['alt', 'height', 'src', 'title', 'width']);
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it('are at most MAX_IMAGES, however many a notebook claims; a non-list is none', async () => {
    const many = Array.from({ length: 10_000 }, (_, i) => ({
      name: `img${i}`,
      width: 1,
      height: 1,
      url: PNG
    }));
    const host = await rendered(resultPayload({ sent: many }));
    expect(images(host)).toHaveLength(MAX_IMAGES);
    expect(MAX_IMAGES).toBe(schema.definitions.sent.maxItems);
    for (const sent of ['fig', PNG, { 0: SENT[0], length: 1 }, 3, true]) {
      expect(readSent(sent)).toEqual([]);
      expect((await rendered(resultPayload({ sent }))).querySelector('img')).toBeNull();
      expect((await rendered(comparePayload({ sent }), 'compare')).querySelector('img')).toBeNull();
    }
  });

  it('follow the schema’s one declaration of what a thumbnail URL is', () => {
    const rule = schema.definitions.sentImage.properties.url;
    expect(rule.pattern.startsWith('^') && rule.pattern.endsWith('$')).toBe(true);
    expect(MAX_URL_CHARS).toBe(rule.maxLength);
    const payload = resultPayload({ sent: [{ ...SENT[0], url: 'javascript:alert(1)' }] });
    expect(schemaErrors('result', payload)).toContain('pattern');
  });
});
