/**
 * The MIME renderers (Lumino widgets) and their factories.
 */

import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import { COMPARE_MIME, RESULT_MIME, readCompare, readResult } from './payload';
import { IActions, IRenderContext, renderCompare, renderResult } from './render';

/**
 * Lower ranks win. Ours beats text/markdown (60), text/html (50) and application/json (0):
 * the kernel's static HTML and Markdown are for front ends without this extension; ours is
 * the interactive view (and works when the notebook is reopened without a live kernel).
 */
export const RENDERER_RANK = -20;

abstract class RendererBase extends Widget implements IRenderMime.IRenderer {
  constructor(
    protected options: IRenderMime.IRendererOptions,
    protected actions: IActions
  ) {
    super();
    this.addClass('jp-MemoriesMagics-renderer');
  }

  protected get context(): IRenderContext {
    return { actions: this.actions };
  }

  abstract renderModel(model: IRenderMime.IMimeModel): Promise<void>;
}

/** Renders `application/vnd.memories-magics.result+json`. */
export class ResultRenderer extends RendererBase {
  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const payload = readResult(model.data[this.options.mimeType]);
    await renderResult(this.node, payload, this.context);
  }
}

/** Renders `application/vnd.memories-magics.compare+json`. */
export class CompareRenderer extends RendererBase {
  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const payload = readCompare(model.data[this.options.mimeType]);
    await renderCompare(this.node, payload, this.context);
  }
}

/**
 * Renderer factories. `safe: true`: these renderers never run model content, so JupyterLab
 * may use them for untrusted notebooks too.
 */
export function createFactories(actions: IActions = {}): IRenderMime.IRendererFactory[] {
  return [
    {
      safe: true,
      mimeTypes: [RESULT_MIME],
      defaultRank: RENDERER_RANK,
      createRenderer: options => new ResultRenderer(options, actions)
    },
    {
      safe: true,
      mimeTypes: [COMPARE_MIME],
      defaultRank: RENDERER_RANK,
      createRenderer: options => new CompareRenderer(options, actions)
    }
  ];
}
