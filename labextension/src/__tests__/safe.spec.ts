import { describe, expect, it } from 'vitest';

import {
  BLOCKED_IMAGE_CLASS,
  BLOCKED_LINK_CLASS,
  harden,
  renderSafeHtml,
  renderSafeMarkdown,
  safeHref
} from '../safe';
import { HOSTILE, allElements } from './fixtures';

/** What must hold for any hardened output, whatever went in. */
function expectInert(root: ParentNode): void {
  for (const el of allElements(root)) {
    expect(['script', 'style', 'iframe', 'object', 'embed', 'svg', 'math', 'img', 'link',
      'meta', 'base', 'form', 'button', 'textarea', 'select', 'video', 'audio', 'source',
      'template', 'noscript', 'frame', 'frameset']).not.toContain(el.localName);
    for (const attr of Array.from(el.attributes)) {
      const name = attr.name.toLowerCase();
      expect(name.startsWith('on'), `${el.localName}[${name}]`).toBe(false);
      expect(['style', 'src', 'srcset', 'srcdoc', 'id', 'name', 'action', 'formaction',
        'poster', 'background', 'xlink:href', 'data']).not.toContain(name);
      expect(name.startsWith('data-'), `${el.localName}[${name}]`).toBe(false);
    }
    for (const token of Array.from(el.classList)) {
      expect(token).toMatch(/^(language-|tok-|cm-|ͼ|jp-MemoriesMagics-)/);
    }
    if (el.hasAttribute('href')) {
      expect(el.getAttribute('href')).toMatch(/^(https?:\/\/|mailto:|#)/i);
    }
    if (el.localName === 'input') {
      expect(el.getAttribute('type')).toBe('checkbox');
      expect(el.hasAttribute('disabled')).toBe(true);
    }
  }
}

function hardened(html: string): HTMLDivElement {
  const host = document.createElement('div');
  host.append(harden(html));
  const comments = document.createTreeWalker(host, NodeFilter.SHOW_COMMENT);
  expect(comments.nextNode()).toBeNull();
  return host;
}

describe('safeHref', () => {
  it('keeps web, mail and fragment links', () => {
    expect(safeHref('https://example.org/a?b=1#c')).toBe('https://example.org/a?b=1#c');
    expect(safeHref('HTTP://EXAMPLE.ORG')).toBe('HTTP://EXAMPLE.ORG');
    expect(safeHref('mailto:someone@example.org')).toBe('mailto:someone@example.org');
    expect(safeHref('#section-2')).toBe('#section-2');
  });

  it.each([
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    ' javascript:alert(1)',
    'java\tscript:alert(1)',
    'java\nscript:alert(1)',
    '\u0000javascript:alert(1)',
    'vbscript:msgbox(1)',
    'data:text/html,<script>alert(1)</script>',
    'data:image/png;base64,AAAA',
    'file:///etc/passwd',
    '//evil.example/x',
    'http:/\\evil.example',
    'relative/path.ipynb',
    '/lab/tree/x',
    '',
    '#',
    null,
    undefined
  ])('drops %j', href => {
    expect(safeHref(href as string)).toBeNull();
  });
});

describe('harden', () => {
  it('removes the hostile sample entirely', () => {
    const host = hardened(
      '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>' +
        '<a href="javascript:window.__pwned=3">x</a>'
    );
    expectInert(host);
    expect(host.querySelector('script')).toBeNull();
    expect(host.querySelector('img')).toBeNull();
    expect(host.querySelector(`.${BLOCKED_IMAGE_CLASS}`)).not.toBeNull();
    const link = host.querySelector('a')!;
    expect(link.hasAttribute('href')).toBe(false);
    expect(link.classList.contains(BLOCKED_LINK_CLASS)).toBe(true);
    expect(link.textContent).toBe('x');
    expect(host.textContent).not.toContain('__pwned');
  });

  it.each([
    '<svg onload="alert(1)"><circle r=1></circle></svg>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<iframe src="https://evil.example"></iframe>',
    '<object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<style>@import url(https://evil.example/x.css); body{display:none}</style>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<base href="https://evil.example/">',
    '<form action="https://evil.example"><input name=q><button>go</button></form>',
    '<button formaction="javascript:alert(1)">b</button>',
    '<video poster="https://evil.example/p.png"><source src="https://evil.example/v.mp4"></video>',
    '<audio src="https://evil.example/a.mp3" autoplay></audio>',
    '<picture><source srcset="https://evil.example/a.png"><img src="https://evil.example/b.png"></picture>',
    '<img srcset="https://evil.example/a.png 2x">',
    '<image href="https://evil.example/a.png">',
    '<div style="background:url(https://evil.example/track.png)">styled</div>',
    '<table background="https://evil.example/bg.png"><tr><td>x</td></tr></table>',
    '<details open ontoggle="alert(1)"><summary>s</summary>d</details>',
    '<a href="https://example.org" onclick="alert(1)" onmouseover="alert(2)">ok</a>',
    '<span data-commandlinker-command="terminal:create-new">run</span>',
    '<div data-commandlinker-command="notebook:run-all-cells" data-commandlinker-args="{}">x</div>',
    '<p id="jp-main-dock-panel" name="x" class="jp-Dialog">clobber</p>',
    '<x-foo onclick="alert(1)"><b onmouseover="alert(1)">kept</b></x-foo>',
    '<jp-button onclick="alert(1)">web component</jp-button>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></p></noscript>',
    '<template><script>alert(1)</script></template>',
    '<!-- <img src=x onerror=alert(1)> --><p>after comment</p>',
    '<input type="text" value="x" autofocus onfocus="alert(1)">',
    '<input type="checkbox" checked onclick="alert(1)">',
    '<textarea autofocus onfocus="alert(1)">x</textarea>',
    '<a href="&#106;avascript:alert(1)">entity</a>',
    '<a href="javascript&colon;alert(1)">colon entity</a>',
    '<a href="  javascript:alert(1)">spaces</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    '<a href="https://example.org" target="_self" rel="opener">target</a>',
    '<ol start="3" onclick="x" type="a"><li>three</li></ol>',
    '<td align="javascript:x">cell</td>',
    '<code class="language-python tok-keyword jp-Dialog mm">x</code>'
  ])('neutralises %s', html => {
    expectInert(hardened(html));
  });

  it('keeps ordinary formatting', () => {
    const host = hardened(
      '<ol start="3"><li>c</li></ol><h2>Title</h2><p>A <strong>b</strong> <em>c</em> <code>d</code></p>' +
        '<ul><li>one</li></ul><table><tr><th align="left">h</th></tr></table>' +
        '<pre><code class="language-python"><span class="tok-keyword ͼ1a">def</span> f</code></pre>'
    );
    expect(host.querySelector('h2')!.textContent).toBe('Title');
    expect(host.querySelector('strong')).not.toBeNull();
    expect(host.querySelector('th')!.getAttribute('align')).toBe('left');
    expect(host.querySelector('ol')!.getAttribute('start')).toBe('3');
    expect(host.querySelector('code.language-python')).not.toBeNull();
    expect(host.querySelector('span')!.className).toBe('tok-keyword ͼ1a');
  });

  it('opens safe links in a new tab without a referrer or opener', () => {
    const link = hardened('<a href="https://example.org" target="_self">e</a>').querySelector(
      'a'
    )!;
    expect(link.getAttribute('href')).toBe('https://example.org');
    expect(link.getAttribute('target')).toBe('_blank');
    expect(link.getAttribute('rel')).toBe('noopener noreferrer nofollow');
  });

  it('replaces images with a placeholder that names them', () => {
    const host = hardened('<img src="https://evil.example/t.png" alt="a chart">');
    const placeholder = host.querySelector(`.${BLOCKED_IMAGE_CLASS}`)!;
    expect(placeholder.textContent).toContain('[image: a chart]');
    expect(placeholder.querySelector('a')!.getAttribute('href')).toBe(
      'https://evil.example/t.png'
    );
    expect(host.querySelector('img')).toBeNull();
  });

  it('keeps unknown elements’ text but not the elements', () => {
    const host = hardened('<x-foo><b>kept</b></x-foo><font color=red>font</font>');
    expect(host.querySelector('x-foo')).toBeNull();
    expect(host.querySelector('font')).toBeNull();
    expect(host.querySelector('b')!.textContent).toBe('kept');
    expect(host.textContent).toBe('keptfont');
  });

  it('does not let a deep nest of unknown elements through', () => {
    let html = '<img src=x onerror=alert(1)>';
    for (let i = 0; i < 200; i++) {
      html = `<x-${i % 3} onclick="x">${html}</x-${i % 3}>`;
    }
    expectInert(hardened(html));
  });
});

function markdown(source: string): HTMLDivElement {
  const host = document.createElement('div');
  renderSafeMarkdown(host, source);
  expectInert(host);
  return host;
}

describe('renderSafeMarkdown', () => {
  it('renders the hostile sample inert, its HTML as text', () => {
    const host = markdown(HOSTILE);
    expect(host.querySelector('script, img')).toBeNull();
    expect(host.textContent).toContain('<img src=x onerror="window.__pwned=1">');
    expect(host.textContent).toContain('<script>window.__pwned=2</script>');
    for (const a of Array.from(host.querySelectorAll('a'))) {
      expect(a.getAttribute('href') ?? '').not.toMatch(/javascript/i);
    }
  });

  it.each([
    ['a<b and b>c', 'a<b and b>c'],
    ['<div>block</div>', '<div>block</div>'],
    ['one<br>two', 'one<br>two'],
    ['<script>alert(1)</script>', '<script>alert(1)</script>'],
    ['<start_of_image> and <end_of_turn>', '<start_of_image> and <end_of_turn>'],
    ['Use `a < b && c` here', 'Use a < b && c here'],
    ['<!-- hidden? -->', '<!-- hidden? -->']
  ])('shows %j as written', (source, shown) => {
    const host = markdown(source);
    expect(host.textContent!.trim()).toBe(shown);
    expect(host.querySelector('div, br, script, b')).toBeNull();
  });

  it('keeps inline code as code, written as is', () => {
    const code = markdown('Use `a < b && c` here').querySelector('code')!;
    expect(code.textContent).toBe('a < b && c');
  });

  it('marks a javascript: link as plain text', () => {
    const host = markdown('[x](javascript:window.__pwned=3)');
    expect(host.querySelector('a[href]')).toBeNull();
    expect(host.textContent).toContain('[x](javascript:window.__pwned=3)');
  });

  it('renders Markdown images as placeholders that name them', () => {
    const host = markdown('![tracker](https://evil.example/pixel.png) and [ok](https://example.org)');
    expect(host.querySelector('img')).toBeNull();
    const placeholder = host.querySelector(`.${BLOCKED_IMAGE_CLASS}`)!;
    expect(placeholder.textContent).toContain('[image: tracker]');
    expect(host.querySelector('a[href="https://example.org"]')!.getAttribute('target')).toBe('_blank');
  });

  it('keeps Markdown formatting', () => {
    const host = markdown(
      '# Title\n\nSome **bold** and `code`, a [link](https://example.org).\n\n- a\n- b\n\n' +
        '| h |\n|:--|\n| c |\n\n```python\nprint("<b>x</b>")\n```\n'
    );
    expect(host.querySelector('h1')!.textContent).toBe('Title');
    expect(host.querySelector('strong')!.textContent).toBe('bold');
    expect(host.querySelectorAll('li')).toHaveLength(2);
    expect(host.querySelector('td')!.textContent).toBe('c');
    expect(host.querySelector('a')!.getAttribute('href')).toBe('https://example.org');
    // HTML inside a code block stays text
    expect(host.querySelector('pre code.language-python')!.textContent).toBe('print("<b>x</b>")\n');
    expect(host.querySelector('pre b')).toBeNull();
  });
});

describe('renderSafeHtml', () => {
  it('keeps formatting and drops script', () => {
    const host = document.createElement('div');
    renderSafeHtml(host, `<h3>Hi</h3><p onclick="x">para</p>${HOSTILE}`);
    expectInert(host);
    expect(host.querySelector('h3')!.textContent).toBe('Hi');
    expect(host.querySelector('script')).toBeNull();
    expect(host.querySelector(`.${BLOCKED_IMAGE_CLASS}`)).not.toBeNull();
  });
});
