// The committed JSON Schemas are the published contract: they must match the zod definitions the code validates with.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMA_DIR, renderSchemas } from './generate.ts';

describe('streams/schemas/*.json', () => {
  it('are up to date with streams/events (regenerate with `npx tsx streams/schemas/generate.ts`)', async () => {
    const expected = await renderSchemas();
    const committed = (await readdir(SCHEMA_DIR)).filter((f) => f.endsWith('.json')).sort();
    expect(committed).toEqual([...expected.keys()].sort());
    for (const [name, text] of expected) expect(await readFile(path.join(SCHEMA_DIR, name), 'utf8')).toBe(text);
  });
});

describe('asyncapi.yaml', () => {
  it('describes every event type with a schema file that exists', async () => {
    const text = await readFile(path.join(SCHEMA_DIR, '..', 'asyncapi.yaml'), 'utf8');
    const refs = [...text.matchAll(/\$ref: '\.\/schemas\/([^']+)'/g)].map((m) => m[1]);
    expect(refs.sort()).toEqual([...(await renderSchemas()).keys()].sort());
  });
});
