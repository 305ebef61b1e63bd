/* Generated from memories_magics/payload.schema.json by scripts/payload-types.mjs (npm run generate). Do not edit. */

/**
 * The JSON the kernel puts under application/vnd.memories-magics.result+json (%%llm) and application/vnd.memories-magics.compare+json (%%compare). Python's tests validate every bundle against it; the JupyterLab extension's types are generated from it (labextension/src/payload.types.ts). The enums equal the lists in vocabulary.json (a test checks).
 */
export type Payload = ResultPayload | ComparePayload;
export type NullableNumber = number | null;
export type Count = number | null;
/**
 * The images a request sent, in order; present only when it sent any. A %%compare payload has them once, at its top (every model was sent the same ones), never in its columns. At most maxItems (the most any provider takes in one request) are shown.
 *
 * @minItems 1
 * @maxItems 500
 */
export type Sent = [SentImage, ...SentImage[]];
/**
 * [op, text]: joining the equal and delete texts gives answer a, the equal and insert texts answer b.
 *
 * @minItems 2
 * @maxItems 2
 */
export type DiffOp = ['equal' | 'delete' | 'insert', string];

/**
 * application/vnd.memories-magics.result+json: one model's answer (text cut for display when truncated is true).
 */
export interface ResultPayload {
  text: string;
  truncated: boolean;
  full_length: number;
  format: 'markdown' | 'text' | 'code' | 'json' | 'html';
  model: string;
  model_id: string;
  provider: string;
  parameters: Parameters;
  usage: Usage;
  cost_usd: NullableNumber;
  latency_s: NullableNumber;
  first_token_s: NullableNumber;
  finish_reason: 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'error' | null;
  cached: boolean;
  interrupted: boolean;
  complete: boolean;
  cache_key: string | null;
  note: string | null;
  footer_items: FooterItem[];
  tools_replayed: boolean;
  tool_steps: ToolStep[];
  provenance: Provenance;
  schema?: SchemaValue;
  sent?: Sent;
  /**
   * Inside a compare payload: null for a model that answered.
   */
  error?: null;
}
export interface Parameters {
  system: string | null;
  temperature: NullableNumber;
  top_p: NullableNumber;
  max_tokens: Count;
  seed: Count;
}
export interface Usage {
  input_tokens: Count;
  output_tokens: Count;
}
/**
 * One piece of an answer's footer, written by the kernel; front ends show the text and style by kind.
 */
export interface FooterItem {
  kind:
    | 'model'
    | 'tokens'
    | 'latency'
    | 'first_token'
    | 'cost'
    | 'cached'
    | 'interrupted'
    | 'truncated'
    | 'max_tokens'
    | 'content_filter'
    | 'tools'
    | 'note'
    | 'cut'
    | 'error';
  text: string;
}
/**
 * One call of a notebook function during a --tools answer, with what it returned (or the error sent back to the model).
 */
export interface ToolStep {
  name: string;
  arguments: {
    [k: string]: unknown;
  };
  result: string;
  is_error: boolean;
}
/**
 * Where an answer came from, as recorded with it (a cache hit shows the recording's). Every value is text; absent fields were not known; a record's other fields are not shown.
 */
export interface Provenance {
  /**
   * The official SDK and its version, e.g. openai 3.57.0 (llama-cpp-python 0.3.36 for local models).
   */
  sdk?: string;
  /**
   * The model the provider says answered (e.g. a dated snapshot behind an alias); a local model's GGUF file name.
   */
  served_model?: string;
  /**
   * The endpoint's host and port, never its path, user, password or query.
   */
  host?: string;
  /**
   * The memories_magics version that recorded the answer.
   */
  memories_magics?: string;
  /**
   * When the answer was recorded (UTC, ISO 8601).
   */
  recorded_at?: string;
  /**
   * A local model's GGUF file digest (part of its cache key).
   */
  gguf_sha256?: string;
  /**
   * The earlier cache format the record was converted from.
   */
  converted_from?: string;
}
/**
 * Only with --schema.
 */
export interface SchemaValue {
  /**
   * The schema as the notebook named it (City, list[City]).
   */
  name: string;
  /**
   * True when the answer matched; then errors is empty.
   */
  ok: boolean;
  /**
   * The validated value (null when it did not match): any JSON.
   */
  value: unknown;
  cut: boolean;
  /**
   * One line per validation error.
   */
  errors: string[];
}
/**
 * One image the request sent, shown above the answer: the name the cell gave it, its size as sent (the title says 'name (width×height)') and a thumbnail of it (at most vocabulary.json's thumbnail_side pixels a side) as a base64 PNG data URL the kernel built from the image's own bytes (an RGBA thumbnail of thumbnail_side pixels a side is under 50,000 characters). The extension shows only a url that matches this pattern within this maxLength and whose PNG header declares at most thumbnail_side pixels a side.
 */
export interface SentImage {
  name: string;
  width: number;
  height: number;
  url: string;
}
/**
 * application/vnd.memories-magics.compare+json: every model's column, the aggregate and the diff of two answers (columns, prompt, aggregate text and diff all cut for display like %%llm's answers).
 */
export interface ComparePayload {
  prompt: string;
  sent?: Sent;
  results: (ResultPayload | FailedColumn)[];
  aggregate: null | Aggregate;
  diff: null | Diff;
}
/**
 * A %%compare column whose model failed: its one-line error instead of an answer.
 */
export interface FailedColumn {
  model: string;
  model_id: string;
  text: string;
  error: string;
  footer_items: FooterItem[];
}
export interface Aggregate {
  method: 'consensus' | 'voting' | 'best_confidence';
  winner: number | null;
  score: NullableNumber;
  explanation: string;
  line: string;
  text: string;
}
export interface Diff {
  mode: 'word' | 'line' | 'char';
  a: number;
  b: number;
  ops: DiffOp[];
}
