// Pure: one Debezium change event + the table mapping → the document actions to publish (upsert, delete, truncate, or nothing).
import { ValidationError } from '../../lib/errors.ts';
import { canonicalJson } from '../../streams/ids.ts';
import { documentInputSchema, type ValidDocumentInput } from '../../streams/document-log.ts';
import { isValidName, type DocumentAddress } from '../../streams/subjects.ts';
import type { ChangeEvent, Row } from './envelope.ts';
import type { Mapping, TableMapping } from './mapping.ts';

/** Debezium's placeholder for a TOASTed column an update left unchanged (REPLICA IDENTITY DEFAULT). */
export const UNAVAILABLE_VALUE = '__debezium_unavailable_value';

export type DocumentAction =
  /** `checkLog`: publish only if the content differs from the document's current version (no `before` to compare with). */
  | { readonly kind: 'upsert'; readonly tenant: string; readonly doc: ValidDocumentInput; readonly checkLog: boolean }
  | { readonly kind: 'delete'; readonly address: DocumentAddress }
  /** Every document of this table (tenant undefined: whatever tenant a row named). */
  | { readonly kind: 'truncate'; readonly tenant: string | undefined; readonly source: string }
  | { readonly kind: 'skip'; readonly reason: string };

/** "schema.table" of an event, from its source block (Postgres: schema; MySQL: db). */
export function tableOf(event: ChangeEvent): string | undefined {
  const ns = event.source.schema ?? event.source.db;
  const table = event.source.table;
  return ns !== undefined && table !== undefined ? `${ns}.${table}` : undefined;
}

function scalarText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return canonicalJson(value);
}

/**
 * The document id of a row. One column: its value as text. Several: each value with "%" and ":" percent-escaped,
 * joined with ":" in the mapping's column order, so ("a:b","c") and ("a","b:c") never collide.
 */
export function documentId(mapping: TableMapping, row: Row, image: 'before' | 'after'): string {
  const parts = mapping.idColumns.map((col) => {
    const value = row[col];
    if (value === null || value === undefined || value === UNAVAILABLE_VALUE) {
      throw new ValidationError(`${mapping.table}: id column "${col}" is missing or null in the ${image} image`, [`${image}.${col}: missing`]);
    }
    return scalarText(value);
  });
  if (parts.length === 1) return parts[0] as string;
  return parts.map((p) => p.replace(/%/g, '%25').replace(/:/g, '%3A')).join(':');
}

function tenantOf(mapping: TableMapping, row: Row, image: 'before' | 'after'): string {
  if ('value' in mapping.tenant) return mapping.tenant.value;
  const value = row[mapping.tenant.column];
  if (typeof value !== 'string' || !isValidName(value)) {
    const hint = image === 'before' ? '; with REPLICA IDENTITY DEFAULT a delete carries only the key columns: set REPLICA IDENTITY FULL on the table' : '';
    throw new ValidationError(
      `${mapping.table}: tenant column "${mapping.tenant.column}" in the ${image} image is ${JSON.stringify(value ?? null)}, not a tenant name (a–z, 0–9, "_", "-")${hint}`,
      [`${image}.${mapping.tenant.column}: not a tenant name`],
    );
  }
  return value;
}

function addressOf(mapping: TableMapping, row: Row, image: 'before' | 'after'): DocumentAddress {
  return { tenant: tenantOf(mapping, row, image), source: mapping.source, id: documentId(mapping, row, image) };
}

function assertAvailable(mapping: TableMapping, row: Row): void {
  const missing = mapping.mappedColumns.filter((c) => row[c] === UNAVAILABLE_VALUE);
  if (missing.length > 0) {
    throw new ValidationError(
      `${mapping.table}: column(s) ${missing.join(', ')} were not sent (unchanged TOAST values under REPLICA IDENTITY DEFAULT); set REPLICA IDENTITY FULL on the table so updates carry every column`,
      missing.map((c) => `after.${c}: unavailable`),
    );
  }
}

function renderUrl(template: string, row: Row): string {
  return template.replace(/\{([^{}]+)\}/g, (_, col: string) => {
    const value = row[col];
    return value === null || value === undefined ? '' : encodeURIComponent(scalarText(value));
  });
}

/** The document a row becomes. Throws ValidationError (naming table and column) when the row cannot make a valid document. */
export function rowToDocument(mapping: TableMapping, row: Row): ValidDocumentInput {
  assertAvailable(mapping, row);
  const text = mapping.textColumns
    .map((c) => row[c])
    .filter((v) => v !== null && v !== undefined && v !== '')
    .map(scalarText)
    .join('\n\n');
  const titleValue = mapping.titleColumn !== undefined ? row[mapping.titleColumn] : undefined;
  const metadata: Record<string, unknown> = {};
  for (const c of mapping.metadataColumns) if (row[c] !== undefined) metadata[c] = row[c];
  const input = {
    id: documentId(mapping, row, 'after'),
    source: mapping.source,
    text,
    metadata,
    // A title is a label: one longer than the schema allows is cut rather than losing the row.
    ...(titleValue !== null && titleValue !== undefined ? { title: scalarText(titleValue).slice(0, 2000) } : {}),
    ...(mapping.urlTemplate !== undefined ? { url: renderUrl(mapping.urlTemplate, row) } : {}),
    ...(mapping.contentType !== undefined ? { contentType: mapping.contentType } : {}),
  };
  const parsed = documentInputSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ValidationError(`${mapping.table}: row ${JSON.stringify(input.id)} does not make a valid document: ${issues.join('; ')}`, issues);
  }
  return parsed.data;
}

function sameOnMappedColumns(mapping: TableMapping, before: Row, after: Row): boolean {
  return mapping.mappedColumns.every((c) => canonicalJson(before[c] ?? null) === canonicalJson(after[c] ?? null));
}

function sameAddress(a: DocumentAddress, b: DocumentAddress): boolean {
  return a.tenant === b.tenant && a.source === b.source && a.id === b.id;
}

/** What to publish for one change event. Unmapped tables and Debezium's own messages yield a skip with the reason. */
export function mapChange(mapping: Mapping, event: ChangeEvent): DocumentAction[] {
  const table = tableOf(event);
  if (event.op === 'm') return [{ kind: 'skip', reason: 'logical decoding message' }];
  if (table === undefined) throw new ValidationError('change event names no table (source.schema/db and source.table)', ['source.table: missing']);
  const tm = mapping.get(table);
  if (!tm) return [{ kind: 'skip', reason: `table ${table} is not in the mapping` }];
  switch (event.op) {
    case 'c':
    case 'r': {
      const after = event.after as Row;
      // A snapshot read may repeat a row the log already holds (a restarted snapshot): publish only what changed.
      return [{ kind: 'upsert', tenant: tenantOf(tm, after, 'after'), doc: rowToDocument(tm, after), checkLog: event.op === 'r' }];
    }
    case 'u': {
      const after = event.after as Row;
      const before = event.before ?? undefined;
      const upsert: DocumentAction = { kind: 'upsert', tenant: tenantOf(tm, after, 'after'), doc: rowToDocument(tm, after), checkLog: before === undefined };
      if (before === undefined) return [upsert];
      if (sameOnMappedColumns(tm, before, after)) return [{ kind: 'skip', reason: 'no mapped column changed' }];
      // The key (or the tenant column) changed: the old document goes away. Only when the old address is fully known.
      let previous: DocumentAddress | undefined;
      try {
        previous = addressOf(tm, before, 'before');
      } catch {
        previous = undefined;
      }
      const current = { tenant: upsert.tenant, source: tm.source, id: upsert.doc.id };
      return previous && !sameAddress(previous, current) ? [{ kind: 'delete', address: previous }, upsert] : [upsert];
    }
    case 'd':
      return [{ kind: 'delete', address: addressOf(tm, event.before as Row, 'before') }];
    case 't':
      return [{ kind: 'truncate', tenant: 'value' in tm.tenant ? tm.tenant.value : undefined, source: tm.source }];
  }
}
