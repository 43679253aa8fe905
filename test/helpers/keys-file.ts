// Test helper: an API keys file (SPANDA_API_KEYS_FILE) of the given entries, in a temp dir of its own.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from './nats.ts';

/** Writes `entries` as keys.json in a new temp dir (named after `prefix`) and returns the file's path. */
export async function writeKeysFile(entries: readonly object[], prefix = 'spanda-keys-'): Promise<string> {
  const file = path.join(await tempDir(prefix), 'keys.json');
  await writeFile(file, JSON.stringify(entries));
  return file;
}
