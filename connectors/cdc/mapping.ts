// The declarative table mapping (JSON file, checked by zod): which columns make a document's id, title, text, metadata, tenant and URL.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError, errorMessage } from '../../lib/errors.ts';
import { CONTENT_TYPES, nameSchema } from '../../streams/events/index.ts';

const column = z.string().min(1, 'must name a column');
const columns = z.array(column).min(1, 'must list at least one column');

const tenantSchema = z.union([
  nameSchema,
  z.object({ value: nameSchema }).strict(),
  z.object({ column }).strict(),
]);

/** How one table becomes documents. */
export const tableMappingSchema = z
  .object({
    /** Columns whose values make the document id, in this order; composite ids are joined stably (see documentId). */
    idColumns: columns,
    titleColumn: column.optional(),
    /** Joined with a blank line, in this order; null and empty values are left out. */
    textColumns: columns,
    metadataColumns: z.array(column).default([]),
    /** A fixed tenant ("acme" or {"value": "acme"}) or {"column": "org"} to take it from each row. */
    tenant: tenantSchema.default('default'),
    /** The document source name (defaults to the table name, made NATS-safe). */
    source: nameSchema.optional(),
    /** e.g. "https://example.com/articles/{slug}": {column} is replaced by the URL-encoded value. */
    urlTemplate: z.string().max(8192).optional(),
    contentType: z.enum(CONTENT_TYPES).optional(),
  })
  .strict();
export type TableMappingInput = z.input<typeof tableMappingSchema>;

/** Keys are "schema.table" (Postgres) or "db.table" (MySQL): what the event's source block names. */
export const mappingFileSchema = z
  .object({
    tables: z.record(z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'table keys are "schema.table"'), tableMappingSchema).refine((t) => Object.keys(t).length > 0, 'map at least one table'),
  })
  .strict();
export type MappingFileInput = z.input<typeof mappingFileSchema>;

export interface TableMapping {
  readonly table: string;
  readonly idColumns: readonly string[];
  readonly titleColumn?: string;
  readonly textColumns: readonly string[];
  readonly metadataColumns: readonly string[];
  readonly tenant: { readonly value: string } | { readonly column: string };
  readonly source: string;
  readonly urlTemplate?: string;
  readonly contentType?: (typeof CONTENT_TYPES)[number];
  /** Every column the document depends on: an update that changes none of them publishes nothing. */
  readonly mappedColumns: readonly string[];
}

export type Mapping = ReadonlyMap<string, TableMapping>;

const TEMPLATE_FIELD = /\{([^{}]+)\}/g;

/** The default source name for a table: lower-case, NATS-safe, at most 63 characters. */
export function defaultSourceName(table: string): string {
  const name = table.split('.').pop() ?? table;
  const safe = name.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 63);
  return safe === '' ? 'cdc' : safe;
}

function normalize(table: string, input: z.output<typeof tableMappingSchema>): TableMapping {
  const tenant = typeof input.tenant === 'string' ? { value: input.tenant } : input.tenant;
  const urlColumns = input.urlTemplate ? [...input.urlTemplate.matchAll(TEMPLATE_FIELD)].map((m) => m[1] as string) : [];
  const mapped = new Set([
    ...input.idColumns,
    ...(input.titleColumn ? [input.titleColumn] : []),
    ...input.textColumns,
    ...input.metadataColumns,
    ...('column' in tenant ? [tenant.column] : []),
    ...urlColumns,
  ]);
  return {
    table,
    idColumns: input.idColumns,
    ...(input.titleColumn !== undefined ? { titleColumn: input.titleColumn } : {}),
    textColumns: input.textColumns,
    metadataColumns: input.metadataColumns,
    tenant,
    source: input.source ?? defaultSourceName(table),
    ...(input.urlTemplate !== undefined ? { urlTemplate: input.urlTemplate } : {}),
    ...(input.contentType !== undefined ? { contentType: input.contentType } : {}),
    mappedColumns: [...mapped],
  };
}

/** Validates a parsed mapping file; the ConfigError names every bad key (e.g. `tables."public.posts".textColumns`). */
export function parseMapping(raw: unknown, origin = 'mapping'): Mapping {
  const parsed = mappingFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.map((p) => (typeof p === 'string' && /[.\s]/.test(p) ? JSON.stringify(p) : String(p))).join('.') || '(root)'}: ${i.code === 'invalid_key' ? 'table keys are "schema.table"' : i.message}`);
    throw new ConfigError(`invalid CDC mapping ${origin}: ${issues.join('; ')}`);
  }
  return new Map(Object.entries(parsed.data.tables).map(([table, t]) => [table, normalize(table, t)]));
}

export async function loadMapping(file: string): Promise<Mapping> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the CDC mapping ${file}: ${errorMessage(err)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`the CDC mapping ${file} is not JSON: ${errorMessage(err)}`);
  }
  return parseMapping(raw, file);
}
