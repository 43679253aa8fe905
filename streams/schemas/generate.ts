// Writes the event contracts: one standalone JSON Schema file per event type and version, in streams/schemas/.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { eventJsonSchemas } from '../events/index.ts';

export const SCHEMA_DIR = fileURLToPath(new URL('.', import.meta.url));

/** File name → contents, e.g. "document.upserted.v1.json". */
export async function renderSchemas(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const [key, schema] of Object.entries(await eventJsonSchemas())) {
    const document = {
      ...(schema as Record<string, unknown>),
      $id: `urn:spanda:event:${key}`,
      title: `${key.replace(/\.v\d+$/, '')} data, schema version ${key.replace(/^.*\.v/, '')}`,
      description: 'The JSON payload (CloudEvents data) of this event type. Generated from streams/events/*.ts by `npx tsx streams/schemas/generate.ts`.',
    };
    files.set(`${key}.json`, `${JSON.stringify(document, null, 2)}\n`);
  }
  return files;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, text] of await renderSchemas()) await writeFile(new URL(name, import.meta.url), text);
  process.stdout.write(`wrote the event schemas to ${SCHEMA_DIR}\n`);
}
