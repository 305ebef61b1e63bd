/**
 * The panel's "Copy as cell": the kernel opens a one-off comm (target in vocabulary.json)
 * carrying `{source, panel}`; the extension inserts a code cell with `source` below the
 * output that holds the panel (DOM class `panel`), in edit mode, and answers
 * `{inserted: true|false}` once, then closes the comm. Kept free of JupyterLab imports.
 */

import { VOCABULARY } from './vocabulary';

export const INSERT_CELL_COMM: string = VOCABULARY.comms.insert_cell;

/** Cells longer than this are refused (the panel then shows the text to copy). */
export const MAX_CELL_CHARS = 100_000;

/** The parts of a kernel comm the handler uses. */
export interface ICommLike {
  send(data: { inserted: boolean }): unknown;
  close(): unknown;
}

/** Inserts `source` below the panel with DOM class `panel` (null: not found); true if done. */
export type InsertCell = (source: string, panel: string | null) => boolean;

const PANEL_CLASS = /^memories-magics-panel-[A-Za-z0-9_-]{1,64}$/;

/** Handle the comm's open message data: insert the cell, answer, close. */
export function handleInsertCell(comm: ICommLike, data: unknown, insert: InsertCell): boolean {
  const d = (data ?? {}) as { source?: unknown; panel?: unknown };
  let inserted = false;
  if (typeof d.source === 'string' && d.source.length <= MAX_CELL_CHARS) {
    const panel = typeof d.panel === 'string' && PANEL_CLASS.test(d.panel) ? d.panel : null;
    try {
      inserted = insert(d.source, panel);
    } catch (error) {
      console.error('memories-magics: could not insert the cell', error);
    }
  }
  comm.send({ inserted });
  comm.close();
  return inserted;
}
