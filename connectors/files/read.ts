// Reading documents to publish from files: JSONL/JSON records, or Markdown/HTML/text files (one document each), or stdin.
import { createReadStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { ContentType } from '../../streams/events/index.ts';

const TEXT_TYPES: Readonly<Record<string, ContentType>> = {
  '.md': 'text/markdown',
  '.markdown': 'text/markdown',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.txt': 'text/plain',
  '.text': 'text/plain',
};
const RECORD_EXTENSIONS = new Set(['.jsonl', '.ndjson', '.json']);

/** One raw document (not yet validated) and where it came from, for error messages. */
export interface SourcedDocument {
  readonly origin: string;
  readonly raw: unknown;
}

/** A line or file that could not be read as a document at all. */
export interface ReadProblem {
  readonly origin: string;
  readonly error: string;
}

export type ReadItem = SourcedDocument | ReadProblem;

export function isProblem(item: ReadItem): item is ReadProblem {
  return 'error' in item;
}

export function titleOf(text: string, contentType: ContentType, fallback: string): string {
  if (contentType === 'text/markdown') {
    const heading = /^#\s+(.+?)\s*#*\s*$/m.exec(text);
    if (heading?.[1]) return heading[1];
  } else if (contentType === 'text/html') {
    const title = /<title[^>]*>([^<]+)<\/title>/i.exec(text) ?? /<h1[^>]*>([^<]+)<\/h1>/i.exec(text);
    if (title?.[1]) return title[1].trim();
  } else {
    const first = text.split('\n').find((l) => l.trim() !== '')?.trim();
    if (first && first.length <= 120) return first;
  }
  return fallback;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const NOT_UTF8 = 'not UTF-8 text (a binary file, or another encoding): convert it to UTF-8 or leave it out';

/** The text of UTF-8 bytes (a leading byte-order mark dropped), or undefined when they are not UTF-8. */
function utf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The lines of a byte stream, without their line break (\n or \r\n). Each line is decoded alone, so one bad line is
 * one problem. The pieces of a line longer than a chunk are joined once, at its end.
 */
async function* byteLines(stream: Readable): AsyncGenerator<Buffer> {
  let pieces: Buffer[] = [];
  const line = (last: Buffer): Buffer => {
    const whole = pieces.length > 0 ? Buffer.concat([...pieces, last]) : last;
    pieces = [];
    return whole.length > 0 && whole[whole.length - 1] === 13 ? whole.subarray(0, -1) : whole;
  };
  for await (const chunk of stream) {
    // A stream set to an encoding (or made from strings) gives strings: their bytes are UTF-8 again.
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    let from = 0;
    for (let nl = bytes.indexOf(10); nl !== -1; nl = bytes.indexOf(10, from)) {
      yield line(bytes.subarray(from, nl));
      from = nl + 1;
    }
    if (from < bytes.length) pieces.push(bytes.subarray(from));
  }
  if (pieces.length > 0) yield line(Buffer.alloc(0));
}

async function* readLines(stream: Readable, origin: string): AsyncGenerator<ReadItem> {
  let n = 0;
  for await (const bytes of byteLines(stream)) {
    n += 1;
    const line = utf8(bytes);
    if (line === undefined) {
      yield { origin: `${origin}:${n}`, error: NOT_UTF8 };
      continue;
    }
    if (line.trim() === '') continue;
    try {
      yield { origin: `${origin}:${n}`, raw: JSON.parse(line) as unknown };
    } catch (err) {
      yield { origin: `${origin}:${n}`, error: `not valid JSON: ${(err as Error).message}` };
    }
  }
}

async function* readRecordsFile(file: string, origin: string): AsyncGenerator<ReadItem> {
  if (path.extname(file) !== '.json') {
    yield* readLines(createReadStream(file), origin);
    return;
  }
  const text = utf8(await readFile(file));
  if (text === undefined) {
    yield { origin, error: NOT_UTF8 };
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    yield { origin, error: `not valid JSON: ${(err as Error).message}` };
    return;
  }
  const list = Array.isArray(parsed)
    ? parsed
    : parsed !== null && typeof parsed === 'object' && Array.isArray((parsed as { documents?: unknown }).documents)
      ? ((parsed as { documents: unknown[] }).documents)
      : [parsed];
  for (const [i, raw] of list.entries()) yield { origin: `${origin}[${i}]`, raw };
}

async function textDocument(file: string, id: string, contentType: ContentType, source: string): Promise<ReadItem> {
  const text = utf8(await readFile(file));
  if (text === undefined) return { origin: id, error: NOT_UTF8 };
  return {
    origin: file,
    raw: { id, source, title: titleOf(text, contentType, path.basename(file)), text, contentType, metadata: { path: id } },
  };
}

async function* walk(dir: string): AsyncGenerator<string> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile()) yield full;
    // A link to a file is read; a link to a directory is not followed (it may lead back up, or anywhere).
    else if (entry.isSymbolicLink() && (await stat(full).catch(() => undefined))?.isFile()) yield full;
  }
}

export interface ReadOptions {
  /** Source name for documents made from text files (records name their own, default "api"). */
  readonly source: string;
  /** File names to skip in directories (e.g. README.md of the sample corpus). */
  readonly skip?: ReadonlySet<string>;
}

/** Reads documents from a file, a directory (recursively) or "-" (JSONL on stdin). Unreadable entries come back as problems. */
export async function* readDocuments(target: string, options: ReadOptions, stdin: Readable = process.stdin): AsyncGenerator<ReadItem> {
  if (target === '-') {
    yield* readLines(stdin, 'stdin');
    return;
  }
  const info = await stat(target).catch(() => undefined);
  if (!info) {
    yield { origin: target, error: 'no such file or directory' };
    return;
  }
  const files = info.isDirectory() ? walk(target) : (async function* () { yield target; })();
  const root = info.isDirectory() ? target : path.dirname(target);
  for await (const file of files) {
    if (options.skip?.has(path.basename(file))) continue;
    const ext = path.extname(file).toLowerCase();
    const rel = path.relative(root, file).split(path.sep).join('/');
    const contentType = TEXT_TYPES[ext];
    if (RECORD_EXTENSIONS.has(ext)) yield* readRecordsFile(file, rel);
    else if (contentType) yield await textDocument(file, rel, contentType, options.source);
    else if (!info.isDirectory()) yield { origin: rel, error: `unsupported file type ${ext || '(none)'}; use .jsonl, .json, .md, .html or .txt` };
  }
}

async function countLines(file: string): Promise<number> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })) if (line.trim() !== '') n += 1;
  return n;
}

/**
 * How many items readDocuments(target) will yield (documents and problems), for a progress bar's total: text files
 * count one without being read, JSONL lines are counted, JSON files parsed. Undefined for stdin, which cannot be read twice.
 */
export async function countDocuments(target: string, options: Pick<ReadOptions, 'skip'> = {}): Promise<number | undefined> {
  if (target === '-') return undefined;
  const info = await stat(target).catch(() => undefined);
  if (!info) return 1;
  const files = info.isDirectory() ? walk(target) : (async function* () { yield target; })();
  let total = 0;
  for await (const file of files) {
    if (options.skip?.has(path.basename(file))) continue;
    const ext = path.extname(file).toLowerCase();
    if (ext === '.json') {
      try {
        const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
        const docs = Array.isArray(parsed) ? parsed : (parsed as { documents?: unknown } | null)?.documents;
        total += Array.isArray(docs) ? docs.length : 1;
      } catch {
        total += 1;
      }
    } else if (RECORD_EXTENSIONS.has(ext)) total += await countLines(file);
    else if (TEXT_TYPES[ext] || !info.isDirectory()) total += 1;
  }
  return total;
}
