import { Sanitizer } from '@jupyterlab/apputils/lib/sanitizer';
import { marked } from 'marked';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { describe, expect, it } from 'vitest';

import { COMPARE_MIME, RESULT_MIME } from '../payload';
import { CompareRenderer, RENDERER_RANK, ResultRenderer, createFactories } from '../widgets';
import { comparePayload, resultPayload } from './fixtures';

function options(mimeType: string): IRenderMime.IRendererOptions {
  return {
    mimeType,
    sanitizer: new Sanitizer(),
    resolver: null,
    linkHandler: null,
    latexTypesetter: null,
    markdownParser: { render: async (source: string) => marked.parse(source) as string }
  };
}

function model(mimeType: string, value: unknown): IRenderMime.IMimeModel {
  return {
    trusted: false,
    data: { [mimeType]: value as any },
    metadata: {},
    setData: () => undefined
  };
}

describe('factories', () => {
  it('are safe, ranked ahead of Markdown and JSON, one per MIME type', () => {
    const factories = createFactories();
    expect(factories.map(f => f.mimeTypes)).toEqual([[RESULT_MIME], [COMPARE_MIME]]);
    for (const factory of factories) {
      expect(factory.safe).toBe(true);
      expect(factory.defaultRank).toBe(RENDERER_RANK);
      expect(RENDERER_RANK).toBeLessThan(0);
    }
    expect(factories[0].createRenderer(options(RESULT_MIME))).toBeInstanceOf(ResultRenderer);
    expect(factories[1].createRenderer(options(COMPARE_MIME))).toBeInstanceOf(CompareRenderer);
  });
});

describe('renderers', () => {
  it('render an untrusted result model', async () => {
    const widget = new ResultRenderer(options(RESULT_MIME), {});
    await widget.renderModel(model(RESULT_MIME, resultPayload()));
    expect(widget.node.classList.contains('jp-MemoriesMagics-renderer')).toBe(true);
    expect(widget.node.querySelector('.jp-MemoriesMagics-footer')!.textContent).toContain('smollm2');
  });

  it('render a compare model, and re-render in place', async () => {
    const widget = new CompareRenderer(options(COMPARE_MIME), {});
    await widget.renderModel(model(COMPARE_MIME, comparePayload()));
    await widget.renderModel(model(COMPARE_MIME, comparePayload()));
    expect(widget.node.querySelectorAll('.jp-MemoriesMagics-compare')).toHaveLength(1);
    expect(widget.node.querySelectorAll('.jp-MemoriesMagics-column')).toHaveLength(3);
  });

  it('render garbage without throwing', async () => {
    const widget = new ResultRenderer(options(RESULT_MIME), {});
    await widget.renderModel(model(RESULT_MIME, 'garbage'));
    expect(widget.node.textContent).toContain('(empty answer)');
  });
});
