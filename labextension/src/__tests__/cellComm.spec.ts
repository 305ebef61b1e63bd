import { describe, expect, it, vi } from 'vitest';

import vocabulary from '../../../memories_magics/vocabulary.json';
import { INSERT_CELL_COMM, MAX_CELL_CHARS, handleInsertCell } from '../cellComm';

function fakeComm() {
  return { send: vi.fn(), close: vi.fn() };
}

describe('handleInsertCell', () => {
  it('uses the kernel’s comm target name', () => {
    expect(INSERT_CELL_COMM).toBe(vocabulary.comms.insert_cell);
  });

  it('inserts the source below the named panel, answers inserted: true, closes', () => {
    const comm = fakeComm();
    const insert = vi.fn(() => true);
    const cell = '%%llm smollm2\nName one colour.';
    expect(handleInsertCell(comm, { source: cell, panel: 'memories-magics-panel-ab12' }, insert))
      .toBe(true);
    expect(insert).toHaveBeenCalledWith(cell, 'memories-magics-panel-ab12');
    expect(comm.send).toHaveBeenCalledWith({ inserted: true });
    expect(comm.close).toHaveBeenCalledOnce();
  });

  it('answers inserted: false when there is no notebook to insert into', () => {
    const comm = fakeComm();
    expect(handleInsertCell(comm, { source: 'x', panel: null }, () => false)).toBe(false);
    expect(comm.send).toHaveBeenCalledWith({ inserted: false });
    expect(comm.close).toHaveBeenCalledOnce();
  });

  it('never passes a hostile panel class on as a selector', () => {
    const insert = vi.fn(() => true);
    for (const panel of ['x"], body', 'memories-magics-panel-a b', 42, {}, 'memories-magics-panel-' + 'a'.repeat(65)]) {
      handleInsertCell(fakeComm(), { source: 'x', panel }, insert);
    }
    expect(insert.mock.calls.every(call => call[1] === null)).toBe(true);
  });

  it('refuses bad sources without inserting, and still answers', () => {
    const insert = vi.fn(() => true);
    for (const data of [null, undefined, {}, { source: 7 }, { source: ['a'] },
                        { source: 'x'.repeat(MAX_CELL_CHARS + 1) }]) {
      const comm = fakeComm();
      expect(handleInsertCell(comm, data, insert)).toBe(false);
      expect(comm.send).toHaveBeenCalledWith({ inserted: false });
    }
    expect(insert).not.toHaveBeenCalled();
  });

  it('answers inserted: false when inserting throws', () => {
    const comm = fakeComm();
    const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(handleInsertCell(comm, { source: 'x' }, () => { throw new Error('disposed'); }))
      .toBe(false);
    expect(comm.send).toHaveBeenCalledWith({ inserted: false });
    spy.mockRestore();
  });
});
