/**
 * The kernel's vocabularies (memories_magics/vocabulary.json, imported, never copied) with
 * the literal types of the payload schema. The lists and the schema's enums are the same
 * (checked by tests on both sides), so the casts below only name what the JSON holds.
 */

import vocabulary from '../../memories_magics/vocabulary.json';
import payloadSchema from '../../memories_magics/payload.schema.json';
import type { Aggregate, Diff, DiffOp, FooterItem, ResultPayload } from './payload.types';

export type AnswerFormat = ResultPayload['format'];
export type FinishReason = NonNullable<ResultPayload['finish_reason']>;
export type FooterKind = FooterItem['kind'];
export type AggregateMethod = Aggregate['method'];
export type DiffMode = Diff['mode'];
export type DiffOpName = DiffOp[0];

export const VOCABULARY = vocabulary;
export const RESULT_MIME: string = vocabulary.mime.result;
export const COMPARE_MIME: string = vocabulary.mime.compare;
export const FORMATS = vocabulary.formats as AnswerFormat[];
export const FINISH_REASONS = vocabulary.finish_reasons as FinishReason[];
export const FOOTER_KINDS = vocabulary.footer_kinds as FooterKind[];
export const AGGREGATION_METHODS = vocabulary.aggregation_methods as AggregateMethod[];
export const DIFF_MODES = vocabulary.diff_modes as DiffMode[];
export const DIFF_OPS = vocabulary.diff_ops as DiffOpName[];
export const CACHE_MODES: string[] = vocabulary.cache_modes;
/** How much of a --schema value its tables show (the kernel's HTML shows the same). */
export const VALUE_TABLE: { max_rows: number; max_depth: number; max_leaf_chars: number } =
  vocabulary.value_table;

/** The provenance fields the payload schema declares (the extension shows no others). */
export const PROVENANCE_FIELDS: readonly string[] = Object.keys(
  payloadSchema.definitions.provenance.properties
);
