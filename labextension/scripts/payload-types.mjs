/**
 * Generates src/payload.types.ts from memories_magics/payload.schema.json (the kernel's
 * payload contract) with json-schema-to-typescript. Run `npm run generate`; a unit test fails
 * while the committed file differs from what this writes.
 */
import { readFileSync, writeFileSync } from 'fs';
import { dirname, join } from 'path';
import { fileURLToPath } from 'url';
import { compile } from 'json-schema-to-typescript';

const here = dirname(fileURLToPath(import.meta.url));
export const SCHEMA_PATH = join(here, '..', '..', 'memories_magics', 'payload.schema.json');
export const TYPES_PATH = join(here, '..', 'src', 'payload.types.ts');

/** The TypeScript text for the schema. */
export async function payloadTypes() {
  const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8'));
  return compile(schema, 'Payload', {
    additionalProperties: false,
    bannerComment:
      '/* Generated from memories_magics/payload.schema.json by scripts/payload-types.mjs' +
      ' (npm run generate). Do not edit. */',
    style: { singleQuote: true, printWidth: 100 },
    unreachableDefinitions: true
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(TYPES_PATH, await payloadTypes());
  console.log(`wrote ${TYPES_PATH}`);
}
