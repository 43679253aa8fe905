// Chunking invariants over many generated documents, plus heading paths, overlap, hard cuts and option validation.
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors.ts';
import { chunkOptions, chunkText, DEFAULT_CHUNKER, type TextChunk } from './chunk.ts';
import { normalizeText, type NormalizedText } from './normalize.ts';
import { estimateTokens } from './tokens.ts';
import { htmlDocument, markdownDocument, plainDocument } from './test-documents.ts';

const SPACE = /\s/;

function documents(): Array<{ name: string; normalized: NormalizedText }> {
  const out: Array<{ name: string; normalized: NormalizedText }> = [];
  for (let seed = 1; seed <= 25; seed++) {
    out.push({ name: `markdown #${seed}`, normalized: normalizeText(markdownDocument(seed), 'text/markdown') });
    out.push({ name: `html #${seed}`, normalized: normalizeText(htmlDocument(seed), 'text/html') });
    out.push({ name: `plain #${seed}`, normalized: normalizeText(plainDocument(seed), 'text/plain') });
  }
  return out;
}

const OPTION_SETS = [DEFAULT_CHUNKER, { size: 100, overlap: 0 }, { size: 100, overlap: 49 }, { size: 333, overlap: 60 }, { size: 2000, overlap: 300 }];

/**
 * Every invariant a consumer may rely on, checked with plain code (one assertion per document keeps 75 documents ×
 * 5 option sets fast). Returns human-readable violations and how many chunks opened with overlap.
 */
function violations(n: NormalizedText, chunks: readonly TextChunk[], options: { size: number; overlap: number }): { problems: string[]; overlaps: number } {
  const problems: string[] = [];
  const fail = (i: number, what: string) => problems.push(`chunk ${i}: ${what}`);
  let covered = 0;
  let overlaps = 0;
  let firstBlock = 0;
  chunks.forEach((chunk, i) => {
    if (chunk.ordinal !== i) fail(i, `ordinal ${chunk.ordinal}`);
    // Verifiable and citable: the text is exactly the slice it claims.
    if (chunk.text !== n.text.slice(chunk.start, chunk.end)) fail(i, 'text is not the slice [start, end)');
    if (chunk.text.length > options.size) fail(i, `${chunk.text.length} characters, over ${options.size}`);
    if (chunk.text !== chunk.text.trim()) fail(i, 'starts or ends with whitespace');
    if (chunk.tokens <= 0) fail(i, `tokens ${chunk.tokens}`);
    // Coverage: whatever lies between the covered prefix and this chunk is whitespace only.
    if (n.text.slice(covered, Math.max(covered, chunk.start)).trim() !== '') fail(i, `text before it is in no chunk`);
    covered = Math.max(covered, chunk.end);
    // A chunk never mixes sections, and its heading is its section's path.
    while ((n.blocks[firstBlock]?.end ?? Infinity) <= chunk.start) firstBlock++;
    for (let b = firstBlock; b < n.blocks.length && (n.blocks[b]?.start ?? Infinity) < chunk.end; b++) {
      const block = n.blocks[b];
      if (block && block.kind !== 'heading' && block.headingPath.join(' > ') !== (chunk.heading ?? '')) fail(i, `holds a block of section "${block.headingPath.join(' > ')}" but is labelled "${chunk.heading}"`);
    }
    const previous = chunks[i - 1];
    if (!previous) return;
    if (chunk.start <= previous.start || chunk.end <= previous.end) fail(i, 'does not move forward');
    if (chunk.start < previous.end) {
      overlaps++;
      if (previous.end - chunk.start > options.overlap) fail(i, `overlap ${previous.end - chunk.start} over ${options.overlap}`);
      if (chunk.heading !== previous.heading) fail(i, 'overlaps a chunk of another section');
      if (!SPACE.test(n.text[chunk.start - 1] ?? '')) fail(i, 'overlap starts inside a word');
    }
    // Where a block was cut in two, the next chunk repeats the previous one's tail whenever a word starts in it.
    const tail = n.text.slice(Math.max(previous.start + 1, previous.end - options.overlap), previous.end);
    let cutInBlock = false;
    for (let b = Math.max(0, firstBlock - 1); b < n.blocks.length && (n.blocks[b]?.start ?? Infinity) < previous.end; b++) {
      cutInBlock ||= (n.blocks[b]?.end ?? 0) > previous.end;
    }
    if (options.overlap > 0 && cutInBlock && /\s\S/.test(tail) && chunk.start >= previous.end) fail(i, 'no overlap after a cut block');
  });
  if (n.text.slice(covered).trim() !== '') problems.push('text after the last chunk is in no chunk');
  return { problems, overlaps };
}

describe('chunk invariants over generated documents', () => {
  const docs = documents();

  for (const options of OPTION_SETS) {
    it(`hold for size ${options.size}, overlap ${options.overlap}`, () => {
      let chunksSeen = 0;
      let overlapsSeen = 0;
      for (const { name, normalized } of docs) {
        const chunks = chunkText(normalized, options);
        const { problems, overlaps } = violations(normalized, chunks, options);
        expect(problems, name).toEqual([]);
        chunksSeen += chunks.length;
        overlapsSeen += overlaps;
      }
      expect(chunksSeen).toBeGreaterThan(docs.length);
      if (options.overlap > 0) expect(overlapsSeen).toBeGreaterThan(chunksSeen / 4);
      else expect(overlapsSeen).toBe(0);
    });
  }

  it('catch a broken chunk list (the checker is not vacuous)', () => {
    const n = normalizeText(markdownDocument(5), 'text/markdown');
    const chunks = chunkText(n, { size: 300, overlap: 60 });
    const [first, second] = chunks;
    if (!first || !second) throw new Error('expected at least two chunks');
    const shifted = [{ ...first, text: first.text.slice(1) }, ...chunks.slice(1)];
    const dropped = [first, ...chunks.slice(2)];
    const tooBig = [{ ...first, end: first.end + 400, text: n.text.slice(first.start, first.end + 400) }, ...chunks.slice(1)];
    expect(violations(n, shifted, { size: 300, overlap: 60 }).problems).not.toEqual([]);
    expect(violations(n, dropped, { size: 300, overlap: 60 }).problems).not.toEqual([]);
    expect(violations(n, tooBig, { size: 300, overlap: 60 }).problems).not.toEqual([]);
  });

  it('are deterministic across runs', () => {
    for (const seed of [3, 7, 11]) {
      const first = chunkText(normalizeText(markdownDocument(seed)));
      const second = chunkText(normalizeText(markdownDocument(seed)));
      expect(second).toEqual(first);
      expect(first.length).toBeGreaterThan(1);
    }
  });
});

describe('chunking structure', () => {
  const markdown = [
    '# Guide',
    'Welcome to the guide.',
    '## Install',
    '### Linux',
    'Run the installer. It takes a minute.',
    '### macOS',
    'Use Homebrew.',
    '## Usage',
    'Start it.',
  ].join('\n\n');

  it('starts a chunk at each section and labels it with the heading path', () => {
    const chunks = chunkText(normalizeText(markdown, 'text/markdown'));
    expect(chunks.map((c) => [c.heading, c.text])).toEqual([
      ['Guide', 'Guide\n\nWelcome to the guide.'],
      // "## Install" holds nothing but its subsection, so it travels with it instead of standing alone.
      ['Guide > Install > Linux', 'Install\n\nLinux\n\nRun the installer. It takes a minute.'],
      ['Guide > Install > macOS', 'macOS\n\nUse Homebrew.'],
      ['Guide > Usage', 'Usage\n\nStart it.'],
    ]);
  });

  it('leaves the heading out of chunks before the first heading and of plain text', () => {
    const chunks = chunkText(normalizeText('Preface text.\n\n# Title\n\nBody.', 'text/markdown'));
    expect(chunks[0]).toEqual({ ordinal: 0, text: 'Preface text.', start: 0, end: 13, tokens: estimateTokens('Preface text.') });
    expect(chunks[0]).not.toHaveProperty('heading');
    expect(chunks[1]?.heading).toBe('Title');
  });

  it('packs small blocks together and keeps blocks whole when they fit', () => {
    const paragraphs = Array.from({ length: 12 }, (_, i) => `Paragraph ${i} has a few words in it.`);
    const chunks = chunkText(normalizeText(paragraphs.join('\n\n'), 'text/plain'), { size: 120, overlap: 0 });
    // Three ~37-character paragraphs fit in 120 characters, a fourth does not.
    expect(chunks.map((chunk) => chunk.text.split('\n\n'))).toEqual([0, 3, 6, 9].map((first) => paragraphs.slice(first, first + 3)));
  });

  it('cuts a big paragraph at sentence ends and repeats trailing whole sentences as overlap', () => {
    const sentences = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} talks about streams.`);
    const n = normalizeText(sentences.join(' '), 'text/plain');
    const chunks = chunkText(n, { size: 200, overlap: 90 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const [i, chunk] of chunks.entries()) {
      expect(chunk.text).toMatch(/^Sentence number \d+ talks about streams\.( Sentence number \d+ talks about streams\.)*$/);
      if (i > 0) expect(chunk.start).toBeLessThan(chunks[i - 1]?.end ?? 0);
    }
  });

  it('falls back to word boundaries for a sentence longer than a chunk', () => {
    const words = Array.from({ length: 500 }, (_, i) => `word${i}`);
    const chunks = chunkText(normalizeText(words.join(' '), 'text/plain'), { size: 150, overlap: 30 });
    for (const chunk of chunks) {
      for (const token of chunk.text.split(' ')) expect(words).toContain(token);
      expect(chunk.text.length).toBeLessThanOrEqual(150);
    }
    expect(chunks.at(-1)?.text.endsWith('word499')).toBe(true);
  });

  it('hard-cuts a single huge token without splitting a surrogate pair', () => {
    const base64 = 'QUJD'.repeat(700) + '😀'.repeat(300);
    const n = normalizeText(`Before.\n\n${base64}\n\nAfter.`, 'text/plain');
    const chunks = chunkText(n, { size: 250, overlap: 50 });
    // No space anywhere inside the token, so no overlap either: the chunks tile the text exactly.
    expect(chunks.map((c) => c.text).join('')).toBe(n.text);
    expect(chunks.length).toBeGreaterThan(12);
    for (const chunk of chunks) {
      expect(chunk.text.isWellFormed()).toBe(true);
      expect(chunk.text.length).toBeLessThanOrEqual(250);
    }
  });

  it('cuts unspaced CJK prose after its punctuation', () => {
    const text = '流式处理把每一次变更都记录为事件。'.repeat(40);
    const chunks = chunkText(normalizeText(text, 'text/plain'), { size: 100, overlap: 20 });
    expect(chunks.length).toBeGreaterThan(6);
    for (const chunk of chunks) expect(chunk.text.endsWith('。') || chunk === chunks.at(-1)).toBe(true);
  });

  it('gives zero chunks for empty and whitespace-only documents', () => {
    for (const text of ['', ' \n\t ', '<p> &nbsp; </p>', '\u200B\r\n']) expect(chunkText(normalizeText(text))).toEqual([]);
    expect(chunkText(normalizeText('#\n\n<!-- only a comment -->\n', 'text/markdown'))).toEqual([]);
  });
});

describe('chunk options', () => {
  it('default to the recorded chunker parameters', () => {
    expect(chunkOptions()).toEqual({ size: 800, overlap: 120 });
    expect(DEFAULT_CHUNKER).toEqual({ name: 'structure', version: 1, size: 800, overlap: 120 });
  });

  it('reject sizes below 100 and overlaps outside [0, size/2)', () => {
    for (const bad of [{ size: 99 }, { size: 100.5 }, { overlap: -1 }, { size: 200, overlap: 100 }, { overlap: Number.NaN }]) {
      expect(() => chunkOptions(bad)).toThrow(ValidationError);
      expect(() => chunkText({ text: 'x', blocks: [] }, bad)).toThrow(ValidationError);
    }
    expect(chunkOptions({ size: 100, overlap: 49 })).toEqual({ size: 100, overlap: 49 });
  });
});
