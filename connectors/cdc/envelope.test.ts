// Debezium envelopes (real samples: with and without the schema wrapper, each op, tombstones) through the table mapping.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ValidationError } from '../../lib/errors.ts';
import { decodeChange, type ChangeEvent } from './envelope.ts';
import { documentId, mapChange } from './map-change.ts';
import { parseMapping } from './mapping.ts';

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', name));

function change(name: string): ChangeEvent {
  const decoded = decodeChange(fixture(name));
  if (decoded.kind !== 'change') throw new Error(`${name} is a tombstone`);
  return decoded.event;
}

const mapping = parseMapping({
  tables: {
    'inventory.customers': {
      idColumns: ['id'],
      titleColumn: 'first_name',
      textColumns: ['first_name', 'last_name'],
      metadataColumns: ['email'],
      tenant: 'acme',
      source: 'customers',
      urlTemplate: 'https://crm.example/customers/{id}',
    },
  },
});

describe('decodeChange', () => {
  it('reads the {schema, payload} form and the bare envelope alike', () => {
    const wrapped = change('create-with-schema.json');
    expect(wrapped.op).toBe('c');
    expect(wrapped.after).toEqual({ id: 1004, first_name: 'Anne', last_name: 'Kretchmar', email: 'annek@noanswer.org' });
    expect(wrapped.source.table).toBe('customers');
    const bare = change('update-no-schema.json');
    expect(bare.op).toBe('u');
    expect(bare.before?.first_name).toBe('Anne');
  });

  it('treats an empty body, JSON null and a null payload as a tombstone', () => {
    expect(decodeChange(new Uint8Array())).toEqual({ kind: 'tombstone' });
    expect(decodeChange('null')).toEqual({ kind: 'tombstone' });
    expect(decodeChange(fixture('tombstone-with-schema.json'))).toEqual({ kind: 'tombstone' });
  });

  it('refuses what is not a change event, naming the field', () => {
    expect(() => decodeChange('{"op":"x","source":{}}')).toThrow(/op: Invalid option/);
    expect(() => decodeChange('{"op":"c","source":{}}')).toThrow(/after: op "c" needs an "after" row image/);
    expect(() => decodeChange('{"op":"d","after":null,"source":{}}')).toThrow(/before: op "d" needs a "before"/);
    expect(() => decodeChange('{nope')).toThrow(ValidationError);
  });
});

describe('mapChange', () => {
  it('create (with schema) upserts the mapped document', () => {
    const [action] = mapChange(mapping, change('create-with-schema.json'));
    expect(action).toEqual({
      kind: 'upsert',
      tenant: 'acme',
      checkLog: false,
      doc: {
        id: '1004',
        source: 'customers',
        title: 'Anne',
        text: 'Anne\n\nKretchmar',
        url: 'https://crm.example/customers/1004',
        metadata: { email: 'annek@noanswer.org' },
      },
    });
  });

  it('snapshot read upserts, checking the log so a repeated snapshot publishes nothing new', () => {
    const [action] = mapChange(mapping, change('read-snapshot-no-schema.json'));
    expect(action).toMatchObject({ kind: 'upsert', checkLog: true, doc: { id: '1001', text: 'Sally\n\nThomas' } });
  });

  it('update with a before image upserts when a mapped column changed', () => {
    const [action] = mapChange(mapping, change('update-no-schema.json'));
    expect(action).toMatchObject({ kind: 'upsert', checkLog: false, doc: { title: 'Anne Marie' } });
  });

  it('update that touches no mapped column publishes nothing', () => {
    const event = change('update-no-schema.json');
    const unmapped = { ...event, before: { ...event.before, login_count: 1 }, after: { ...event.before, login_count: 2 } };
    const narrow = parseMapping({ tables: { 'inventory.customers': { idColumns: ['id'], textColumns: ['last_name'] } } });
    expect(mapChange(narrow, unmapped)).toEqual([{ kind: 'skip', reason: 'no mapped column changed' }]);
    // Only first_name changed, and this mapping does not use it.
    expect(mapChange(narrow, event)).toEqual([{ kind: 'skip', reason: 'no mapped column changed' }]);
  });

  it('update without before (REPLICA IDENTITY DEFAULT) upserts and asks for the log comparison', () => {
    const [action] = mapChange(mapping, change('update-replica-identity-default.json'));
    expect(action).toMatchObject({ kind: 'upsert', checkLog: true, doc: { metadata: { email: 'anne@example.org' } } });
  });

  it('a changed key deletes the old document and upserts the new one', () => {
    const event = change('update-no-schema.json');
    const moved = { ...event, after: { ...event.after, id: 2000 } };
    expect(mapChange(mapping, moved).map((a) => (a.kind === 'delete' ? `delete ${a.address.id}` : a.kind === 'upsert' ? `upsert ${a.doc.id}` : a.kind))).toEqual([
      'delete 1004',
      'upsert 2000',
    ]);
  });

  it('delete (key columns only in before) deletes; truncate clears the table', () => {
    expect(mapChange(mapping, change('delete-no-schema.json'))).toEqual([{ kind: 'delete', address: { tenant: 'acme', source: 'customers', id: '1004' } }]);
    expect(mapChange(mapping, change('truncate-no-schema.json'))).toEqual([{ kind: 'truncate', tenant: 'acme', source: 'customers' }]);
  });

  it('a tenant column missing from a delete names the fix', () => {
    const byColumn = parseMapping({ tables: { 'inventory.customers': { idColumns: ['id'], textColumns: ['last_name'], tenant: { column: 'org' } } } });
    expect(() => mapChange(byColumn, change('delete-no-schema.json'))).toThrow(/tenant column "org" in the before image is null.*REPLICA IDENTITY FULL/);
  });

  it('skips tables the mapping does not name', () => {
    const other = parseMapping({ tables: { 'public.posts': { idColumns: ['id'], textColumns: ['body'] } } });
    expect(mapChange(other, change('create-with-schema.json'))).toEqual([{ kind: 'skip', reason: 'table inventory.customers is not in the mapping' }]);
  });

  it('an unchanged TOAST placeholder in a mapped column is a clear error', () => {
    const event = change('update-replica-identity-default.json');
    const toasted = { ...event, after: { ...event.after, last_name: '__debezium_unavailable_value' } };
    expect(() => mapChange(mapping, toasted)).toThrow(/last_name were not sent.*REPLICA IDENTITY FULL/);
  });
});

describe('documentId', () => {
  it('joins composite ids stably and without collisions', () => {
    const tm = parseMapping({ tables: { 's.t': { idColumns: ['a', 'b'], textColumns: ['x'] } } }).get('s.t');
    if (!tm) throw new Error('no mapping');
    expect(documentId(tm, { a: 'x:y', b: 'z' }, 'after')).toBe('x%3Ay:z');
    expect(documentId(tm, { a: 'x', b: 'y:z' }, 'after')).toBe('x:y%3Az');
    expect(documentId(tm, { b: 2, a: 1 }, 'after')).toBe('1:2');
    expect(() => documentId(tm, { a: 1 }, 'after')).toThrow(/id column "b" is missing or null/);
  });
});

describe('parseMapping', () => {
  it('names the bad key', () => {
    expect(() => parseMapping({ tables: { 'public.posts': { idColumns: [], textColumns: ['body'] } } })).toThrow(/tables\."public\.posts"\.idColumns: must list at least one column/);
    expect(() => parseMapping({ tables: { 'public.posts': { idColumns: ['id'], textColumns: ['b'], tenant: 'Bad Tenant' } } })).toThrow(/tables\."public\.posts"\.tenant/);
    expect(() => parseMapping({ tables: { 'public.posts': { idColumns: ['id'], textColumn: ['b'] } } })).toThrow(ConfigError);
    expect(() => parseMapping({ tables: { posts: { idColumns: ['id'], textColumns: ['b'] } } })).toThrow(/schema\.table/);
  });

  it('defaults source to the table name and tenant to "default"', () => {
    const tm = parseMapping({ tables: { 'public.Blog_Posts': { idColumns: ['id'], textColumns: ['body'] } } }).get('public.Blog_Posts');
    expect(tm).toMatchObject({ source: 'blog_posts', tenant: { value: 'default' } });
  });
});

describe('rowKeys (per-row ordering in the consumer)', () => {
  it('names the rows a change touches; a truncate or an undecodable value runs alone', async () => {
    const { rowKeys } = await import('./consumer.ts');
    const event = change('update-no-schema.json');
    const moved = Buffer.from(JSON.stringify({ ...event, after: { ...event.after, id: 2000 } }));
    expect(rowKeys(mapping, moved)).toEqual(['inventory.customers|[1004]', 'inventory.customers|[2000]']);
    expect(rowKeys(mapping, fixture('update-no-schema.json'))).toEqual(['inventory.customers|[1004]']);
    expect(rowKeys(mapping, fixture('truncate-no-schema.json'))).toBeUndefined();
    expect(rowKeys(mapping, Buffer.from('{nope'))).toBeUndefined();
    expect(rowKeys(mapping, new Uint8Array())).toEqual([]);
  });
});
