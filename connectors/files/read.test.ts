// Reading documents from files: text files become one document each, JSONL lines become records, bad lines are reported.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countDocuments, isProblem, readDocuments, titleOf, type ReadItem } from './read.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'spanda-files-'));
  await mkdir(path.join(dir, 'guides'));
  await writeFile(path.join(dir, 'guides', 'install.md'), '# Installing\n\nRun the installer.');
  await writeFile(path.join(dir, 'page.html'), '<html><head><title>A page</title></head><body><p>Hi</p></body></html>');
  await writeFile(path.join(dir, 'records.jsonl'), '{"id":"r1","text":"one"}\n\nnot json\n{"id":"r2","text":"two","source":"crm"}\n');
  await writeFile(path.join(dir, 'image.png'), 'binary');
  await writeFile(path.join(dir, 'README.md'), '# skip me');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(items: AsyncIterable<ReadItem>): Promise<ReadItem[]> {
  const out: ReadItem[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('readDocuments', () => {
  it('reads a directory: text files as documents with ids relative to it, JSONL records with line numbers', async () => {
    const items = await collect(readDocuments(dir, { source: 'handbook', skip: new Set(['README.md']) }));
    const docs = items.filter((i) => !isProblem(i)).map((i) => ('raw' in i ? i.raw : undefined)) as Array<Record<string, unknown>>;
    expect(docs).toEqual([
      expect.objectContaining({ id: 'guides/install.md', source: 'handbook', title: 'Installing', contentType: 'text/markdown' }),
      expect.objectContaining({ id: 'page.html', title: 'A page', contentType: 'text/html' }),
      { id: 'r1', text: 'one' },
      { id: 'r2', text: 'two', source: 'crm' },
    ]);
    const problems = items.filter(isProblem);
    expect(problems).toEqual([{ origin: 'records.jsonl:3', error: expect.stringMatching(/not valid JSON/) }]);
  });

  it('reports text that is not UTF-8 (a file, a JSON file, one JSONL line) instead of publishing replacement characters', async () => {
    const bad = await mkdtemp(path.join(os.tmpdir(), 'spanda-files-utf8-'));
    try {
      const latin1 = Buffer.from('caf\xe9 cr\xe8me', 'latin1');
      await writeFile(path.join(bad, 'latin1.txt'), latin1);
      await writeFile(path.join(bad, 'latin1.json'), Buffer.concat([Buffer.from('{"id":"j","text":"'), latin1, Buffer.from('"}')]));
      // A byte-order mark, CRLF line ends, one line in Latin-1 among UTF-8 ones, no final line break.
      const lines = Buffer.concat([
        Buffer.from('\ufeff{"id":"a","text":"café"}\r\n{"id":"b","text":"'),
        latin1,
        Buffer.from('"}\r\n{"id":"c","text":"crème"}'),
      ]);
      await writeFile(path.join(bad, 'mixed.jsonl'), lines);
      await writeFile(path.join(bad, 'good.md'), '# Gut\n\nÜber café.');
      const items = await collect(readDocuments(bad, { source: 's' }));
      expect(items.filter(isProblem)).toEqual([
        { origin: 'latin1.json', error: expect.stringMatching(/not UTF-8 text/) },
        { origin: 'latin1.txt', error: expect.stringMatching(/not UTF-8 text/) },
        { origin: 'mixed.jsonl:2', error: expect.stringMatching(/not UTF-8 text/) },
      ]);
      const docs = items.filter((i) => !isProblem(i)).map((i) => ('raw' in i ? i.raw : undefined));
      expect(docs).toEqual([expect.objectContaining({ id: 'good.md', text: '# Gut\n\nÜber café.' }), { id: 'a', text: 'café' }, { id: 'c', text: 'crème' }]);
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });

  it('reads a link to a file in a directory and does not follow a link to a directory', async () => {
    const linked = await mkdtemp(path.join(os.tmpdir(), 'spanda-files-links-'));
    try {
      await mkdir(path.join(linked, 'docs'));
      await writeFile(path.join(linked, 'shared.md'), '# Shared');
      await symlink(path.join(linked, 'shared.md'), path.join(linked, 'docs', 'shared-link.md'));
      await symlink(linked, path.join(linked, 'docs', 'loop'));
      await symlink(path.join(linked, 'missing.md'), path.join(linked, 'docs', 'dangling.md'));
      const items = await collect(readDocuments(path.join(linked, 'docs'), { source: 's' }));
      expect(items.map((i) => ('raw' in i ? (i.raw as { id: string }).id : i.error))).toEqual(['shared-link.md']);
    } finally {
      await rm(linked, { recursive: true, force: true });
    }
  });

  it('reads JSONL from stdin and reports a missing path or an unsupported file', async () => {
    const stdin = Readable.from(['{"id":"s1","text":"from stdin"}\n']);
    expect(await collect(readDocuments('-', { source: 'x' }, stdin))).toEqual([{ origin: 'stdin:1', raw: { id: 's1', text: 'from stdin' } }]);
    expect(await collect(readDocuments(path.join(dir, 'missing'), { source: 'x' }))).toEqual([{ origin: path.join(dir, 'missing'), error: 'no such file or directory' }]);
    const [png] = await collect(readDocuments(path.join(dir, 'image.png'), { source: 'x' }));
    expect(png && isProblem(png) ? png.error : '').toMatch(/unsupported file type \.png/);
  });

  it('takes a title from the first heading, the HTML title or a short first line', () => {
    expect(titleOf('intro\n# Real title', 'text/markdown', 'f.md')).toBe('Real title');
    expect(titleOf('A short first line\nbody', 'text/plain', 'f.txt')).toBe('A short first line');
    expect(titleOf('x'.repeat(200), 'text/plain', 'f.txt')).toBe('f.txt');
  });

  it('counts what it will read ahead (the progress bar total) without reading text files, and nothing for stdin', async () => {
    const skip = new Set(['README.md']);
    const items = await collect(readDocuments(dir, { source: 'x', skip }));
    expect(await countDocuments(dir, { skip })).toBe(items.length);
    expect(await countDocuments(path.join(dir, 'records.jsonl'))).toBe(3);
    expect(await countDocuments('-')).toBeUndefined();
  });
});
