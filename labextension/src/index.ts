/**
 * memories-magics: JupyterLab renderers and commands for the %%llm and %%compare magics.
 *
 * Two plugins:
 * - `memories-magics:renderers` registers the renderers of our two MIME types;
 * - `memories-magics:plugin` adds the commands (command palette) and owns the settings.
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Clipboard, ICommandPalette, Notification, showDialog, Dialog } from '@jupyterlab/apputils';
import { INotebookTracker, Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel } from '@jupyterlab/services';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import {
  CACHE_MODE_EXPRESSION,
  CLEAR_CACHE_CODE,
  CacheMode,
  CommandIDs,
  DEFAULT_SETTINGS,
  ISettings,
  LOAD_EXT,
  cacheModeCode,
  compareCellSource,
  llmCellSource,
  loadsExtension,
  readCacheMode,
  readSettings
} from './commands';
import { INSERT_CELL_COMM, InsertCell, handleInsertCell } from './cellComm';
import { IActions } from './render';
import { createFactories } from './widgets';

export * from './payload';
export * from './diff';
export * from './safe';
export * from './render';
export * from './value';
export * from './widgets';
export * from './commands';
export * from './cellComm';

const PLUGIN_ID = 'memories-magics:plugin';
const CATEGORY = 'Language models (memories_magics)';

/**
 * Put the notebook's active cell in edit mode with the cursor on `line`, once its editor
 * exists and after the command palette (if it ran this) has given the focus back: typing
 * then writes into the cell instead of firing command-mode shortcuts.
 */
function editActiveCell(notebook: Notebook, line: number): void {
  notebook.mode = 'edit';
  const cell = notebook.activeCell;
  void cell?.ready.then(() =>
    requestAnimationFrame(() => {
      if (notebook.isDisposed || notebook.activeCell !== cell || !cell.editor) {
        return;
      }
      notebook.mode = 'edit';
      cell.editor.setCursorPosition({ line, column: 0 });
      cell.editor.focus();
    })
  );
}

/**
 * Insert a code cell holding `code` below the cell whose output holds `origin` (else below
 * the current notebook's active cell); `edit` puts the cursor in it.
 */
function insertBelowOrigin(
  tracker: INotebookTracker | null,
  code: string,
  origin: HTMLElement | null,
  edit = false
): boolean {
  if (!tracker) {
    return false;
  }
  const panel = (origin && tracker.find(p => p.node.contains(origin))) || tracker.currentWidget;
  if (!panel || !panel.content.model) {
    return false;
  }
  const notebook = panel.content;
  let index = origin ? notebook.widgets.findIndex(cell => cell.node.contains(origin)) : -1;
  if (index < 0) {
    index = notebook.activeCellIndex;
  }
  notebook.model!.sharedModel.insertCell(index + 1, { cell_type: 'code', source: code });
  notebook.deselectAll();
  notebook.activeCellIndex = index + 1;
  void notebook.scrollToItem(index + 1);
  if (edit) {
    editActiveCell(notebook, 0);
  } else {
    notebook.mode = 'command';
  }
  return true;
}

/** Answer the panel's "Copy as cell" comms in every notebook kernel (see cellComm.ts). */
function registerInsertCellComm(tracker: INotebookTracker): void {
  const insert: InsertCell = (source, panelClass) => {
    const origin = panelClass
      ? tracker.find(p => !!p.node.querySelector(`.${panelClass}`))?.node.querySelector<HTMLElement>(
          `.${panelClass}`
        ) ?? null
      : null;
    return insertBelowOrigin(tracker, source, origin, true);
  };
  const register = (kernel: Kernel.IKernelConnection | null | undefined) =>
    kernel?.registerCommTarget(INSERT_CELL_COMM, (comm, msg) =>
      void handleInsertCell(comm, msg.content.data, insert)
    );
  tracker.widgetAdded.connect((_, panel) => {
    register(panel.sessionContext.session?.kernel);
    panel.sessionContext.kernelChanged.connect((_, change) => register(change.newValue));
  });
}

const renderers: JupyterFrontEndPlugin<void> = {
  id: 'memories-magics:renderers',
  description: 'Renders %%llm and %%compare outputs: sanitised answers, footers, diffs.',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    tracker: INotebookTracker | null
  ) => {
    const actions: IActions = {
      copy: text => Clipboard.copyToSystem(text),
      insertCodeCell: (code, origin) => insertBelowOrigin(tracker, code, origin)
    };
    for (const factory of createFactories(actions)) {
      rendermime.addFactory(factory, factory.defaultRank);
    }
  }
};

/** Run Python in a notebook's kernel; resolves to what it printed, rejects on an error. */
async function runInKernel(panel: NotebookPanel, code: string): Promise<string> {
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel) {
    throw new Error('This notebook has no running kernel.');
  }
  const future = kernel.requestExecute({
    code,
    silent: false,
    store_history: false,
    allow_stdin: false,
    stop_on_error: false
  });
  let printed = '';
  let failure = '';
  future.onIOPub = msg => {
    const type = msg.header.msg_type;
    const content = msg.content as Record<string, any>;
    if (type === 'stream') {
      printed += String(content.text ?? '');
    } else if (type === 'error') {
      failure = `${content.ename}: ${content.evalue}`;
    }
  };
  const reply = await future.done;
  const content = reply.content as Record<string, any>;
  if (failure || content.status !== 'ok') {
    throw new Error(failure || `${content.ename ?? 'Error'}: ${content.evalue ?? ''}`);
  }
  return printed.trim();
}

/** The cache mode of a notebook's kernel, asked silently (no output, no execution count). */
async function kernelCacheMode(panel: NotebookPanel): Promise<CacheMode | null> {
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel) {
    return null;
  }
  const reply = await kernel.requestExecute({
    code: '',
    silent: true,
    store_history: false,
    allow_stdin: false,
    user_expressions: { mode: CACHE_MODE_EXPRESSION }
  }).done;
  const content = reply.content as { user_expressions?: Record<string, unknown> };
  return readCacheMode(content.user_expressions?.mode);
}

const commands: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Commands for the %%llm and %%compare magics, and their settings.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    let settings: ISettings = DEFAULT_SETTINGS;
    // Each kernel's cache mode as the kernel last reported it, read again whenever a cell of
    // its notebook has run (a cell may have changed it) and when the kernel changes.
    const modes = new Map<string, CacheMode | null>();
    const refreshMode = async (panel: NotebookPanel | null): Promise<CacheMode | null> => {
      const id = panel?.sessionContext.session?.kernel?.id;
      if (!panel || !id) {
        return null;
      }
      let mode: CacheMode | null = null;
      try {
        mode = await kernelCacheMode(panel);
      } catch {
        mode = null; // a dead or restarting kernel: unknown
      }
      modes.set(id, mode);
      app.commands.notifyCommandChanged(CommandIDs.toggleReplay);
      return mode;
    };

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(loaded => {
          const update = () => {
            settings = readSettings(loaded.composite as Record<string, unknown>);
          };
          update();
          loaded.changed.connect(update);
        })
        .catch(reason => console.error(`${PLUGIN_ID}: could not load settings`, reason));
    }

    tracker.widgetAdded.connect((_, panel) => {
      panel.sessionContext.statusChanged.connect((context, status) => {
        const id = context.session?.kernel?.id;
        if (id && (status === 'restarting' || status === 'autorestarting')) {
          modes.delete(id);
          app.commands.notifyCommandChanged(CommandIDs.toggleReplay);
        }
      });
      panel.sessionContext.kernelChanged.connect(() => void refreshMode(panel));
    });
    tracker.currentChanged.connect((_, panel) => void refreshMode(panel));
    registerInsertCellComm(tracker);
    NotebookActions.executed.connect((_, { notebook }) => {
      const panel = tracker.find(p => p.content === notebook) ?? null;
      void refreshMode(panel);
    });

    const hasNotebook = () => tracker.currentWidget !== null;
    const hasKernel = () => !!tracker.currentWidget?.sessionContext.session?.kernel;

    /** Insert cells below the active cell: `%load_ext` first if no cell loads it yet. */
    const insertMagicCell = (source: string) => {
      const panel = tracker.currentWidget;
      if (!panel || !panel.content.model) {
        return;
      }
      const notebook = panel.content;
      const shared = notebook.model!.sharedModel;
      const sources = shared.cells.map(cell => cell.getSource());
      let index = Math.max(notebook.activeCellIndex, -1) + 1;
      if (shared.cells.length === 1 && !sources[0]?.trim()) {
        // A new notebook: replace its empty first cell rather than add below it.
        shared.deleteCell(0);
        index = 0;
      }
      if (!loadsExtension(sources)) {
        shared.insertCell(index, { cell_type: 'code', source: LOAD_EXT });
        index += 1;
      }
      shared.insertCell(index, { cell_type: 'code', source });
      notebook.deselectAll();
      notebook.activeCellIndex = index;
      editActiveCell(notebook, 1); // the prompt's line
    };

    app.commands.addCommand(CommandIDs.insertLlm, {
      label: 'Insert an %%llm cell',
      caption: 'Insert a cell that asks a language model (default model from the settings)',
      isEnabled: hasNotebook,
      execute: () => insertMagicCell(llmCellSource(settings))
    });

    app.commands.addCommand(CommandIDs.insertCompare, {
      label: 'Insert a %%compare cell',
      caption: 'Insert a cell that asks several models side by side',
      isEnabled: hasNotebook,
      execute: () => insertMagicCell(compareCellSource(settings))
    });

    app.commands.addCommand(CommandIDs.clearCache, {
      label: 'Clear this notebook’s LLM cache',
      caption: 'Run %llm cache clear in this notebook’s kernel',
      isEnabled: hasKernel,
      execute: async args => {
        const panel = tracker.currentWidget;
        if (!panel) {
          return;
        }
        if (!args.force) {
          const answer = await showDialog({
            title: 'Clear the LLM cache?',
            body:
              'Every cached answer of this notebook is deleted: the next run calls the models ' +
              'again, and replay mode will miss.',
            buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Clear' })]
          });
          if (!answer.button.accept) {
            return;
          }
        }
        try {
          const printed = await runInKernel(panel, CLEAR_CACHE_CODE);
          Notification.success(printed || 'Cache cleared', { autoClose: 4000 });
        } catch (error) {
          Notification.error(`Could not clear the cache: ${(error as Error).message}`);
        }
      }
    });

    app.commands.addCommand(CommandIDs.toggleReplay, {
      label: 'Replay mode (answer only from this notebook’s cache)',
      caption: 'Toggle %llm cache mode replay / use in this notebook’s kernel',
      isEnabled: hasKernel,
      isToggled: () => {
        const id = tracker.currentWidget?.sessionContext.session?.kernel?.id;
        return !!id && modes.get(id) === 'replay';
      },
      execute: async () => {
        const panel = tracker.currentWidget;
        if (!panel?.sessionContext.session?.kernel) {
          return;
        }
        try {
          // What the kernel says now, not what this extension last set: a cell may have
          // changed it (%llm cache mode ...), or the kernel may have restarted.
          const on = (await refreshMode(panel)) !== 'replay';
          const printed = await runInKernel(panel, cacheModeCode(on ? 'replay' : 'use'));
          Notification.info(
            printed ||
              (on ? 'Replay mode: answers come only from the cache' : 'Cache mode: use'),
            { autoClose: 4000 }
          );
        } catch (error) {
          Notification.error(`Could not change the cache mode: ${(error as Error).message}`);
        }
        await refreshMode(panel);
      }
    });

    if (palette) {
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category: CATEGORY });
      }
    }
  }
};

export default [renderers, commands];
