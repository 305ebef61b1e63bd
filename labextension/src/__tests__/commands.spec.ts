import { readFileSync } from 'fs';
import { join } from 'path';
import { describe, expect, it } from 'vitest';

import {
  CACHE_MODE_EXPRESSION,
  CLEAR_CACHE_CODE,
  DEFAULT_SETTINGS,
  cacheModeCode,
  compareCellSource,
  kernelCode,
  llmCellSource,
  loadsExtension,
  modelWord,
  readCacheMode,
  readSettings
} from '../commands';

describe('settings', () => {
  it('match the schema defaults', () => {
    const schema = JSON.parse(readFileSync(join(__dirname, '../../schema/plugin.json'), 'utf8'));
    const defaults = Object.fromEntries(
      Object.entries(schema.properties).map(([k, v]) => [k, (v as { default: unknown }).default])
    );
    expect(defaults).toEqual(DEFAULT_SETTINGS);
    expect(readSettings(defaults)).toEqual(DEFAULT_SETTINGS);
  });

  it('replace bad values with defaults and keep one word per model', () => {
    const s = readSettings({
      defaultModel: ' openai:gpt-4o-mini\n%system rm -rf ',
      compareModels: ['a', '', 'b c', 3],
      compareAggregate: 'nonsense',
      cacheMode: 'replay'
    });
    expect(s.defaultModel).toBe('openai:gpt-4o-mini');
    expect(s.compareModels).toEqual(['a', 'b']);
    expect(s.compareAggregate).toBe('');
    expect(s.cacheMode).toBe('replay');
    expect(readSettings(null)).toEqual(DEFAULT_SETTINGS);
    expect(readSettings({ compareModels: [] }).compareModels).toEqual(DEFAULT_SETTINGS.compareModels);
    expect(modelWord(undefined)).toBe('');
  });
});

describe('inserted cells', () => {
  it('%%llm uses the default model and cache mode', () => {
    expect(llmCellSource(DEFAULT_SETTINGS)).toBe('%%llm\n');
    expect(
      llmCellSource({ ...DEFAULT_SETTINGS, defaultModel: 'openai:gpt-4o-mini', cacheMode: 'replay' })
    ).toBe('%%llm openai:gpt-4o-mini --cache replay\n');
  });

  it('%%compare lists the models', () => {
    expect(compareCellSource(DEFAULT_SETTINGS)).toBe('%%compare smollm2 gemma\n');
    expect(
      compareCellSource({ ...DEFAULT_SETTINGS, compareModels: ['a', 'b'], compareAggregate: 'voting', cacheMode: 'off' })
    ).toBe('%%compare a b --aggregate voting --cache off\n');
  });

  it('knows whether a notebook loads the extension', () => {
    expect(loadsExtension(['x = 1', '%load_ext memories_magics'])).toBe(true);
    expect(loadsExtension(['import os\n  %reload_ext memories_magics'])).toBe(true);
    expect(loadsExtension(['%load_ext memories_magics_other', '# %load_ext memories'])).toBe(false);
  });
});

describe('kernel code', () => {
  it('loads the extension quietly and runs one %llm line', () => {
    expect(CLEAR_CACHE_CODE).toBe(
      "get_ipython().extension_manager.load_extension('memories_magics')\n" +
        'get_ipython().run_line_magic(\'llm\', "cache clear");'
    );
    expect(cacheModeCode('replay')).toContain('"cache mode replay"');
    expect(kernelCode('use "x"')).toContain('"use \\"x\\""');
  });
});

describe('the kernel\'s cache mode', () => {
  it('is read from a user_expressions result, and null when unknown', () => {
    expect(readCacheMode({ status: 'ok', data: { 'text/plain': "'replay'" } })).toBe('replay');
    expect(readCacheMode({ status: 'ok', data: { 'text/plain': "'use'" } })).toBe('use');
    expect(readCacheMode({ status: 'ok', data: { 'text/plain': 'None' } })).toBeNull();
    expect(readCacheMode({ status: 'ok', data: { 'text/plain': "'sideways'" } })).toBeNull();
    expect(readCacheMode({ status: 'error', ename: 'NameError' })).toBeNull();
    expect(readCacheMode(undefined)).toBeNull();
    expect(readCacheMode({ status: 'ok', data: { 'text/plain': 42 } })).toBeNull();
  });

  it('is asked for without importing anything into the kernel', () => {
    expect(CACHE_MODE_EXPRESSION).toContain("modules.get('memories_magics.engine')");
    expect(CACHE_MODE_EXPRESSION).not.toMatch(/\n/);
  });
});
