// @vitest-environment node
import { readFileSync } from 'fs';
import { join } from 'path';
import { describe, expect, it } from 'vitest';

import vocabulary from '../../../memories_magics/vocabulary.json';
import schema from '../../../memories_magics/payload.schema.json';
import plugin from '../../schema/plugin.json';
import { payloadTypes, TYPES_PATH } from '../../scripts/payload-types.mjs';
import { AGGREGATES, CACHE_MODES } from '../commands';
import { DIFF_MODES } from '../diff';
import { COMPARE_MIME, FORMATS, RESULT_MIME } from '../payload';

describe('the kernel’s vocabulary', () => {
  it('is what the extension uses', () => {
    expect(RESULT_MIME).toBe(vocabulary.mime.result);
    expect(COMPARE_MIME).toBe(vocabulary.mime.compare);
    expect(FORMATS).toEqual(vocabulary.formats);
    expect(DIFF_MODES).toEqual(vocabulary.diff_modes);
    expect(CACHE_MODES).toEqual(vocabulary.cache_modes);
    expect(AGGREGATES).toEqual(['', ...vocabulary.aggregation_methods]);
  });

  it('is what the settings schema offers (plugin.json cannot import it)', () => {
    expect(plugin.properties.cacheMode.enum).toEqual(vocabulary.cache_modes);
    expect(plugin.properties.compareAggregate.enum).toEqual(['', ...vocabulary.aggregation_methods]);
  });

  it('is what the payload schema allows', () => {
    const d = schema.definitions;
    expect(d.result.properties.format.enum).toEqual(vocabulary.formats);
    expect(d.result.properties.finish_reason.enum).toEqual([...vocabulary.finish_reasons, null]);
    expect(d.footerItem.properties.kind.enum).toEqual(vocabulary.footer_kinds);
    expect(d.diffOp.items[0].enum).toEqual(vocabulary.diff_ops);
  });
});

describe('payload.types.ts', () => {
  it('is generated from the current payload schema (npm run generate)', async () => {
    expect(readFileSync(TYPES_PATH, 'utf8')).toBe(await payloadTypes());
    expect(TYPES_PATH).toBe(join(__dirname, '..', 'payload.types.ts'));
  });
});
