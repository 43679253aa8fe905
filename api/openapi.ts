// The OpenAPI 3.1 description of the HTTP API, generated from the zod schemas the routes validate with, and its HTML rendering.
import { z } from 'zod';
import { documentInputSchema } from '../streams/document-log.ts';
import { chatRequestSchema } from './routes/chat.ts';
import { MAX_BATCH_DOCUMENTS } from './routes/documents.ts';
import { NDJSON_CONTENT_TYPE } from './routes/documents-ndjson.ts';
import { feedbackRequestSchema } from './routes/feedback.ts';
import { queryRequestSchema } from './routes/query.ts';
import { accessFor } from './auth.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** A named schema: request bodies are the routes' own zod schemas; responses are described here. */
interface NamedSchema {
  readonly name: string;
  readonly schema: z.ZodType;
  /** 'input' for what a client sends (defaults make fields optional), 'output' for what it receives. */
  readonly io: 'input' | 'output';
}

interface Operation {
  readonly method: string;
  /** Hono's spelling, `:param` for path parameters. */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag: string;
  /** Query string parameters (all optional). */
  readonly query?: ReadonlyArray<{ readonly name: string; readonly description: string; readonly schema: JsonObject }>;
  /** Per media type, the schemas a body may take (several: oneOf). */
  readonly body?: Readonly<Record<string, readonly NamedSchema[]>>;
  readonly responses: Readonly<Record<string, { readonly description: string; readonly schema?: NamedSchema; readonly contentType?: string; readonly alsoAs?: string }>>;
}

// --- schemas ------------------------------------------------------------------------------------------------------

const problemSchema = z
  .object({
    type: z.string().describe('Stable problem type, urn:spanda:problem:<code>'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().describe('What happened and what to do about it'),
    issues: z.array(z.string()).optional(),
  })
  .describe('RFC 9457 problem details');

const documentBatchSchema = z.object({ documents: z.array(documentInputSchema).min(1).max(MAX_BATCH_DOCUMENTS) }).strict();

const acceptedSchema = z.object({
  accepted: z.array(z.object({ id: z.string(), source: z.string(), seq: z.number().int().describe('DOCUMENTS sequence; pass as after_seq to read your write'), duplicate: z.boolean().optional() })),
});
const deletedSchema = z.object({ seq: z.number().int(), duplicate: z.boolean().optional() });
const erasureSchema = z.object({
  tenant: z.string(),
  source: z.string(),
  id: z.string(),
  deletionSeq: z.number().int(),
  neverPublished: z.literal(true).optional(),
  purged: z.object({ documents: z.number().int(), chunks: z.number().int(), embeddings: z.number().int() }),
  unprocessed: z.array(z.string()),
  notRunning: z.array(z.string()).describe('EMBEDDINGS subjects of a model no process embeds with any more: erased whole without waiting'),
  queries: z.number().int(),
  dlqEntries: z.number().int(),
  erasureSeq: z.number().int(),
  complete: z.boolean(),
});
const documentStateSchema = z.looseObject({
  tenant: z.string(),
  source: z.string(),
  id: z.string(),
  seq: z.number().int().nullable(),
  deleted: z.boolean(),
  chunks: z.number().int(),
  vectors: z.number().int(),
  serving: z.looseObject({ generation: z.string(), model: z.string(), seq: z.number().int().nullable(), applied: z.boolean() }),
  versionCount: z.number().int().describe('How many versions the indexing catalog holds for the document'),
  versions: z.array(z.record(z.string(), z.unknown())).describe('The newest versions (100 unless ?versions= says otherwise) before ?before=, oldest first, with their per-stage facts (the indexing catalog)'),
  olderVersionsBefore: z.number().int().optional().describe('Present when older versions remain: pass it as ?before= for the next page'),
  erasures: z
    .array(z.object({ before: z.number().int(), at: z.string(), streamSeq: z.number().int() }))
    .optional()
    .describe('Present when the document was erased (spanda erase): the versions before `before` were taken out of the log, and the catalog tells them no more'),
});
const queryResponseSchema = z.looseObject({
  queryId: z.string(),
  answer: z.string(),
  results: z.array(
    z.object({
      docId: z.string(),
      source: z.string(),
      chunkId: z.string(),
      title: z.string().nullable(),
      url: z.string().nullable(),
      text: z.string(),
      score: z.number(),
      seq: z.number().int(),
      heading: z.string().optional(),
      metadata: z.record(z.string(), z.unknown()),
    }),
  ),
  took_ms: z.number(),
  mode: z.string(),
  model: z.string(),
  generation: z.string(),
});
const feedbackResponseSchema = z.object({ queryId: z.string(), rating: z.number().int(), seq: z.number().int() });
const lineageSchema = z.looseObject({ queryId: z.string(), tenant: z.string(), query: z.string(), answer: z.string(), lineage: z.array(z.record(z.string(), z.unknown())) });
const chatResponseSchema = z.looseObject({ id: z.string(), object: z.literal('chat.completion'), model: z.string(), choices: z.array(z.record(z.string(), z.unknown())) });
const healthSchema = z.object({ status: z.literal('ok') });
const readySchema = z.object({
  status: z.enum(['ready', 'not-ready']),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), detail: z.string().optional() })),
  projection: z.record(z.string(), z.unknown()).optional(),
});

const S = {
  problem: { name: 'Problem', schema: problemSchema, io: 'output' },
  documentInput: { name: 'DocumentInput', schema: documentInputSchema, io: 'input' },
  documentBatch: { name: 'DocumentBatch', schema: documentBatchSchema, io: 'input' },
  accepted: { name: 'Accepted', schema: acceptedSchema, io: 'output' },
  deleted: { name: 'DeletionAccepted', schema: deletedSchema, io: 'output' },
  erasure: { name: 'Erasure', schema: erasureSchema, io: 'output' },
  documentState: { name: 'DocumentState', schema: documentStateSchema, io: 'output' },
  queryRequest: { name: 'QueryRequest', schema: queryRequestSchema, io: 'input' },
  queryResponse: { name: 'QueryResponse', schema: queryResponseSchema, io: 'output' },
  chatRequest: { name: 'ChatCompletionRequest', schema: chatRequestSchema, io: 'input' },
  chatResponse: { name: 'ChatCompletion', schema: chatResponseSchema, io: 'output' },
  feedbackRequest: { name: 'FeedbackRequest', schema: feedbackRequestSchema, io: 'input' },
  feedbackResponse: { name: 'FeedbackAccepted', schema: feedbackResponseSchema, io: 'output' },
  lineage: { name: 'AnswerLineage', schema: lineageSchema, io: 'output' },
  health: { name: 'Health', schema: healthSchema, io: 'output' },
  ready: { name: 'Readiness', schema: readySchema, io: 'output' },
} as const satisfies Record<string, NamedSchema>;

const problems = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: PROBLEM_TEXT[s] ?? 'Problem', schema: S.problem, contentType: 'application/problem+json' }]));
const PROBLEM_TEXT: Record<number, string> = {
  400: 'Invalid request (the detail names the field)',
  401: 'No API key, or an unknown one (only when keys are configured)',
  403: "The key lacks this route's scope",
  404: 'Not found',
  413: 'Body over the size limit',
  415: 'Body is not JSON',
  429: "Over the key's rate limit, or its document quota (see Retry-After)",
  503: 'NATS unreachable (see Retry-After)',
  504: 'after_seq not applied in time',
  507: 'A stream is at its storage limit (the detail names it); nothing more is stored until an operator raises it',
};

/** What each route does. A route registered without an entry here still appears (and a test fails until it is described). */
export const OPERATIONS: readonly Operation[] = [
  {
    method: 'POST',
    path: '/v1/documents',
    tag: 'documents',
    summary: 'Publish one document or a batch',
    description:
      "Answers 202 once JetStream has stored each document.upserted event. The whole batch is validated before any of it is published. A key with a document quota (documentLimit) takes one per document: a batch over what is left gets 429 with Retry-After, one over the quota's burst 400, and an NDJSON upload waits for the quota. Documents JetStream does not store (503, 507) are given back to the quota.",
    body: { 'application/json': [S.documentInput, S.documentBatch], [NDJSON_CONTENT_TYPE]: [S.documentInput] },
    responses: {
      '202': { description: 'Stored in the log (NDJSON in: one result line per input line out)', schema: S.accepted, alsoAs: NDJSON_CONTENT_TYPE },
      ...problems(400, 401, 403, 413, 415, 429, 503, 507),
    },
  },
  {
    method: 'DELETE',
    path: '/v1/documents/:source/:id',
    tag: 'documents',
    summary: 'Delete a document (publishes document.deleted)',
    responses: { '202': { description: 'Deletion stored in the log', schema: S.deleted }, ...problems(400, 401, 403, 429, 503, 507) },
  },
  {
    method: 'POST',
    path: '/v1/documents/:source/:id/erase',
    tag: 'documents',
    summary: "Erase a document: delete it, then take every earlier version's content out of the log (admin)",
    description:
      "As spanda erase: publishes document.deleted, erases the document's earlier DOCUMENTS messages, its CHUNKS and EMBEDDINGS once the pipeline has removed it, " +
      'the queries whose answers cited it and its DLQ entries, and records the erasure on ERASURES for the indexing catalog. The deletion stays. ' +
      'complete is false when the pipeline had not removed it within `wait` (those subjects were erased whole): call again once the node has caught up.',
    query: [{ name: 'wait', description: "Seconds to wait for the pipeline's removal (0–300, default 60)", schema: { type: 'number', minimum: 0, maximum: 300 } }],
    responses: { '200': { description: 'What was erased', schema: S.erasure }, ...problems(400, 401, 403, 429, 503, 507) },
  },
  {
    method: 'GET',
    path: '/v1/documents/:source/:id',
    tag: 'documents',
    summary: "A document's indexed state in the serving generation",
    query: [
      { name: 'versions', description: 'How many of the newest versions to tell (1–1000, default 100)', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
      { name: 'before', description: 'Tell versions older than this DOCUMENTS sequence (olderVersionsBefore of the previous page)', schema: { type: 'integer', minimum: 1 } },
    ],
    responses: { '200': { description: 'Indexed state', schema: S.documentState }, ...problems(400, 401, 403, 404, 429) },
  },
  {
    method: 'POST',
    path: '/v1/query',
    tag: 'query',
    summary: 'Hybrid, vector or keyword retrieval within the tenant, with a cited answer',
    body: { 'application/json': [S.queryRequest] },
    responses: {
      '200': { description: 'Answer and results ("stream": true: server-sent events)', schema: S.queryResponse, alsoAs: 'text/event-stream' },
      ...problems(400, 401, 403, 413, 415, 429, 504),
    },
  },
  {
    method: 'POST',
    path: '/v1/chat/completions',
    tag: 'query',
    summary: 'OpenAI-compatible chat completions over retrieval in the tenant',
    body: { 'application/json': [S.chatRequest] },
    responses: {
      '200': { description: 'A chat completion ("stream": true: server-sent chunks)', schema: S.chatResponse, alsoAs: 'text/event-stream' },
      ...problems(400, 401, 403, 413, 415, 429),
    },
  },
  {
    method: 'POST',
    path: '/v1/feedback',
    tag: 'query',
    summary: "A rating of one of this tenant's answers (feedback.given)",
    body: { 'application/json': [S.feedbackRequest] },
    responses: { '202': { description: 'Stored in the log', schema: S.feedbackResponse }, ...problems(400, 401, 403, 404, 429, 503) },
  },
  {
    method: 'GET',
    path: '/v1/answers/:id',
    tag: 'query',
    summary: "One of this tenant's answers with its lineage down to the DOCUMENTS events",
    responses: { '200': { description: 'Answer and lineage', schema: S.lineage }, ...problems(401, 403, 404, 429) },
  },
  { method: 'GET', path: '/v1/schemas', tag: 'contracts', summary: 'Index of the event JSON Schemas', responses: { '200': { description: 'Schema index' } } },
  {
    method: 'GET',
    path: '/v1/schemas/:name',
    tag: 'contracts',
    summary: 'One event JSON Schema',
    responses: { '200': { description: 'JSON Schema', contentType: 'application/schema+json' }, ...problems(404) },
  },
  { method: 'GET', path: '/asyncapi.yaml', tag: 'contracts', summary: 'The AsyncAPI document of the streams', responses: { '200': { description: 'AsyncAPI', contentType: 'application/yaml' } } },
  {
    method: 'GET',
    path: '/v1/projections',
    tag: 'operations',
    summary: 'Generations of each projection, the active ones, checkpoints and lag (admin)',
    responses: { '200': { description: 'Projections' }, ...problems(401, 403, 429) },
  },
  {
    method: 'GET',
    path: '/v1/connectors',
    tag: 'operations',
    summary: 'The connectors this process runs: state (starting, running, retrying, stopped), documents published, last error, per-feed or replication details (admin)',
    responses: { '200': { description: 'Connectors' }, ...problems(401, 403, 429) },
  },
  { method: 'GET', path: '/healthz', tag: 'operations', summary: 'Liveness: the process answers', responses: { '200': { description: 'Alive', schema: S.health } } },
  {
    method: 'GET',
    path: '/readyz',
    tag: 'operations',
    summary: 'Readiness: NATS connected, store open, projection applying',
    responses: { '200': { description: 'Ready', schema: S.ready }, '503': { description: 'Not ready', schema: S.ready } },
  },
  {
    method: 'GET',
    path: '/metrics',
    tag: 'operations',
    summary: 'Prometheus metrics (admin scope when keys are configured)',
    responses: { '200': { description: 'Prometheus text format', contentType: 'text/plain' }, ...problems(401, 403) },
  },
  { method: 'GET', path: '/openapi.json', tag: 'operations', summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1 document' } } },
  { method: 'GET', path: '/docs', tag: 'operations', summary: 'This document as an HTML page', responses: { '200': { description: 'HTML', contentType: 'text/html' } } },
];

// --- generation ---------------------------------------------------------------------------------------------------

const SCHEMA_REF = '#/components/schemas/';

/** zod's JSON Schema with its $defs lifted into components (a $ref inside an OpenAPI document resolves against the document root). */
function toComponent(named: NamedSchema, components: Record<string, Json>): void {
  if (components[named.name] !== undefined) return;
  const schema = z.toJSONSchema(named.schema, { io: named.io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonObject;
  const defs = (schema.$defs ?? {}) as JsonObject;
  delete schema.$defs;
  delete schema.$schema;
  const rename = (def: string) => `${named.name}_${def.replace(/^_+/, '')}`;
  const rewrite = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' && v.startsWith('#/$defs/') ? SCHEMA_REF + rename(v.slice('#/$defs/'.length)) : rewrite(v)]),
    );
  };
  components[named.name] = rewrite(schema);
  for (const [def, body] of Object.entries(defs)) components[rename(def)] = rewrite(body);
}

const ref = (named: NamedSchema): JsonObject => ({ $ref: SCHEMA_REF + named.name });

/** `/v1/documents/:source/:id` → `/v1/documents/{source}/{id}`. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}');
}

export interface RegisteredRoute {
  readonly method: string;
  readonly path: string;
}

/** The OpenAPI 3.1 document for the routes an app registered (middleware entries, method ALL, are skipped). */
export function buildOpenApi(routes: readonly RegisteredRoute[], info: { version: string } = { version: '0.1.0' }): JsonObject {
  const components: Record<string, Json> = {};
  const paths: Record<string, JsonObject> = {};
  const seen = new Set<string>();
  for (const route of routes) {
    const method = route.method.toUpperCase();
    if (method === 'ALL' || route.path.includes('*')) continue;
    const key = `${method} ${route.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const op = OPERATIONS.find((o) => o.method === method && o.path === route.path);
    const access = accessFor(method, route.path);
    const params: Json[] = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({
      name: m[1] as string,
      in: 'path',
      required: true,
      schema: { type: 'string' },
      ...(m[1] === 'id' ? { description: 'The upstream id, percent-encoded ("/" as %2F)' } : {}),
    }));
    for (const q of op?.query ?? []) params.push({ name: q.name, in: 'query', required: false, description: q.description, schema: q.schema });
    const responses: JsonObject = {};
    for (const [status, r] of Object.entries(op?.responses ?? { default: { description: 'Response' } })) {
      if (r.schema) toComponent(r.schema, components);
      const media: JsonObject = r.schema || r.contentType ? { [r.contentType ?? 'application/json']: r.schema ? { schema: ref(r.schema) } : {} } : {};
      if (r.alsoAs) media[r.alsoAs] = {};
      responses[status] = { description: r.description, ...(Object.keys(media).length > 0 ? { content: media } : {}) };
    }
    let requestBody: JsonObject | undefined;
    if (op?.body) {
      const content: JsonObject = {};
      for (const [type, schemas] of Object.entries(op.body)) {
        schemas.forEach((s) => toComponent(s, components));
        content[type] = { schema: schemas.length === 1 ? ref(schemas[0] as NamedSchema) : { oneOf: schemas.map(ref) } };
      }
      requestBody = { required: true, content };
    }
    const operation: JsonObject = {
      operationId: `${method.toLowerCase()}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, ch: string | undefined) => (ch ? ch.toUpperCase() : ''))}`,
      summary: op?.summary ?? `${method} ${route.path}`,
      ...(op?.description ? { description: op.description } : {}),
      tags: [op?.tag ?? 'other'],
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses,
      // Public routes need nothing; the others need a key with the scope (when keys are configured).
      security: access === 'public' ? [] : [{ apiKey: [access] }],
      'x-spanda-scope': access,
    };
    const p = openApiPath(route.path);
    paths[p] = { ...(paths[p] ?? {}), [method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Spanda',
      version: info.version,
      description:
        'Streaming RAG on NATS JetStream. With API keys configured, send `Authorization: Bearer <key>`: the key decides the tenant ' +
        '(x-tenant is ignored) and its scopes (publish, query, admin) decide the routes. Without keys (open mode, loopback) ' +
        'the tenant comes from the x-tenant header. Every response carries a W3C traceparent header.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths: sortKeys(paths),
    components: {
      schemas: sortKeys(components as Record<string, JsonObject>),
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'A Spanda API key; the scopes listed per operation are the key scopes it needs' } },
    },
  };
}

function sortKeys<T>(o: Record<string, T>): Record<string, Json> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))) as Record<string, Json>;
}

// --- HTML ---------------------------------------------------------------------------------------------------------

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** A self-contained page (no scripts, no network) listing every operation with its scope, parameters and schemas. */
export function renderDocsPage(spec: JsonObject): string {
  const paths = (spec.paths ?? {}) as Record<string, Record<string, JsonObject>>;
  const ops = Object.entries(paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => {
      const responses = Object.entries((op.responses ?? {}) as Record<string, JsonObject>)
        .map(([status, r]) => {
          const content = (r.content ?? {}) as Record<string, JsonObject>;
          const refs = Object.values(content).map((c) => ((c.schema as JsonObject | undefined)?.$ref as string | undefined)?.replace(SCHEMA_REF, '') ?? '');
          return `<li><code>${escapeHtml(status)}</code> ${escapeHtml(String(r.description ?? ''))}${refs.filter(Boolean).map((n) => ` → <a href="#schema-${escapeHtml(n)}">${escapeHtml(n)}</a>`).join('')}</li>`;
        })
        .join('');
      const body = op.requestBody ? `<p>Body: <code>${escapeHtml(JSON.stringify((((op.requestBody as JsonObject).content as JsonObject)['application/json'] as JsonObject | undefined)?.schema ?? {}))}</code></p>` : '';
      return `<section><h3><span class="m">${escapeHtml(method.toUpperCase())}</span> <code>${escapeHtml(path)}</code> <small>scope: ${escapeHtml(String(op['x-spanda-scope']))}</small></h3><p>${escapeHtml(String(op.summary ?? ''))}</p>${op.description ? `<p>${escapeHtml(String(op.description))}</p>` : ''}${body}<ul>${responses}</ul></section>`;
    }),
  );
  const schemas = Object.entries(((spec.components as JsonObject).schemas ?? {}) as JsonObject)
    .map(([name, s]) => `<section id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3><pre>${escapeHtml(JSON.stringify(s, null, 2))}</pre></section>`)
    .join('');
  const info = spec.info as JsonObject;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(String(info.title))} API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}code,pre{font:13px ui-monospace,monospace}pre{background:#f4f4f4;padding:.5rem;overflow:auto}.m{display:inline-block;min-width:4.5rem;font-weight:600}section{border-top:1px solid #ddd}small{color:#666}</style>
</head><body><h1>${escapeHtml(String(info.title))} API <small>${escapeHtml(String(info.version))} · OpenAPI ${escapeHtml(String(spec.openapi))}</small></h1>
<p>${escapeHtml(String(info.description ?? ''))}</p><p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
<h2>Operations</h2>${ops.join('\n')}
<h2>Schemas</h2>${schemas}
</body></html>
`;
}
