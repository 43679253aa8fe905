// Structure-aware chunking: whole blocks packed per section, big blocks cut at sentences then words, with overlap.
import { ValidationError } from '../../lib/errors.ts';
import type { Block, NormalizedText } from './blocks.ts';
import { forEachSentence, hardCut, overlapStart } from './boundaries.ts';
import { estimateTokens } from './tokens.ts';
import { DEFAULT_CHUNKER_SETTINGS } from '../../streams/events/index.ts';

export interface ChunkOptions {
  /** Most characters (UTF-16 code units) in one chunk, overlap included. */
  readonly size: number;
  /** Most characters a chunk repeats from the end of the previous chunk of its section. */
  readonly overlap: number;
}

/** One chunk: `text === normalized.text.slice(start, end)`, so any chunk can be checked against and cited in its document. */
export interface TextChunk {
  readonly ordinal: number;
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly tokens: number;
  /** The section's heading path joined with " > ", absent outside any heading. */
  readonly heading?: string;
}

/** Recorded in every document.chunked event; bump `version` whenever the same input would chunk differently. */
export const DEFAULT_CHUNKER = DEFAULT_CHUNKER_SETTINGS;

export const MIN_CHUNK_SIZE = 100;

/** Fills defaults and validates: size an integer ≥ 100, overlap an integer with 0 ≤ overlap < size / 2. */
export function chunkOptions(options: { size?: number; overlap?: number } = {}): ChunkOptions {
  const size = options.size ?? DEFAULT_CHUNKER.size;
  const overlap = options.overlap ?? DEFAULT_CHUNKER.overlap;
  const issues: string[] = [];
  if (!Number.isSafeInteger(size) || size < MIN_CHUNK_SIZE) issues.push(`size: must be an integer ≥ ${MIN_CHUNK_SIZE}, got ${size}`);
  if (!Number.isSafeInteger(overlap) || overlap < 0 || overlap >= size / 2) {
    issues.push(`overlap: must be an integer ≥ 0 and less than half the size (${size} / 2 = ${size / 2}), got ${overlap}`);
  }
  if (issues.length > 0) throw new ValidationError(`invalid chunker options: ${issues.join('; ')}`, issues);
  return { size, overlap };
}

interface Section {
  readonly blocks: Block[];
  path: readonly string[];
  headingsOnly: boolean;
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((part, i) => part === b[i]));
}

function extendsPath(path: readonly string[], prefix: readonly string[]): boolean {
  return path.length > prefix.length && prefix.every((part, i) => part === path[i]);
}

/**
 * Groups blocks into sections, one per heading. A section holding only headings joins the next one when that is a
 * subsection ("# Install" directly followed by "## Linux"), so a lone heading does not become a chunk of its own.
 */
export function sections(blocks: readonly Block[]): Array<{ readonly blocks: readonly Block[]; readonly path: readonly string[] }> {
  const out: Section[] = [];
  for (const block of blocks) {
    const current = out.at(-1);
    if (current && block.kind !== 'heading' && samePath(current.path, block.headingPath)) {
      current.blocks.push(block);
      current.headingsOnly = false;
    } else if (current?.headingsOnly && block.kind === 'heading' && extendsPath(block.headingPath, current.path)) {
      current.blocks.push(block);
      current.path = block.headingPath;
    } else {
      out.push({ blocks: [block], path: block.headingPath, headingsOnly: block.kind === 'heading' });
    }
  }
  return out;
}

/** Ranges of text never split further, in order, each at most `size` long (parallel arrays: no object per word). */
class Pieces {
  readonly starts: number[] = [];
  readonly ends: number[] = [];

  constructor(
    private readonly text: string,
    private readonly size: number,
    /** Pieces of split blocks leave room for the overlap, so the next chunk can always carry it. */
    private readonly maxPiece: number,
  ) {}

  /** A block that fits stays whole unless `split` asks for sentence pieces anyway. */
  add(block: Block, split = false): void {
    if (block.end - block.start <= this.size && !split) this.push(block.start, block.end);
    else this.sentences(block.start, block.end);
  }

  private push(start: number, end: number): void {
    this.starts.push(start);
    this.ends.push(end);
  }

  private sentences(start: number, end: number): void {
    forEachSentence(this.text, start, end, (from, to) => this.sentence(from, to));
  }

  private sentence(start: number, end: number): void {
    if (end - start <= this.maxPiece) {
      this.push(start, end);
      return;
    }
    const words = /\S+/g;
    words.lastIndex = start;
    for (let match = words.exec(this.text); match && match.index < end; match = words.exec(this.text)) {
      this.word(match.index, Math.min(end, match.index + match[0].length));
    }
  }

  // Only a "word" longer than a piece (base64, a URL, unspaced CJK) is ever cut inside.
  private word(start: number, end: number): void {
    let from = start;
    while (end - from > this.maxPiece) {
      const cut = hardCut(this.text, from, from + this.maxPiece);
      this.push(from, cut);
      from = cut;
    }
    this.push(from, end);
  }
}

/** Greedy packing of pieces into [start, end) spans of at most `size`, each after the first opening with overlap. */
function pack(text: string, pieces: Pieces, { size, overlap }: ChunkOptions): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let start = -1;
  let end = -1;
  for (let p = 0; p < pieces.starts.length; p++) {
    const pieceStart = pieces.starts[p] as number;
    const pieceEnd = pieces.ends[p] as number;
    if (start >= 0 && pieceEnd - start <= size) {
      end = pieceEnd;
      continue;
    }
    let next = pieceStart;
    if (start >= 0) {
      spans.push([start, end]);
      if (overlap > 0) next = overlapStart(text, start, end, overlap, pieceEnd - size) ?? pieceStart;
    }
    start = next;
    end = pieceEnd;
  }
  if (start >= 0) spans.push([start, end]);
  return spans;
}

/**
 * Splits normalised text into chunks. Every chunk is at most `size` characters (no exception: over-long words are
 * cut), never crosses a section, and covers the text in order; together the chunks cover every non-space character.
 * Deterministic: the same text and options always give the same chunks.
 */
export function chunkText(normalized: NormalizedText, options: { size?: number; overlap?: number } = {}): TextChunk[] {
  const resolved = chunkOptions(options);
  const { text } = normalized;
  const chunks: TextChunk[] = [];
  for (const section of sections(normalized.blocks)) {
    const pieces = new Pieces(text, resolved.size, resolved.size - resolved.overlap);
    const sectionStart = section.blocks[0]?.start ?? 0;
    let headingsOnly = true;
    for (const block of section.blocks) {
      // A heading must not end up alone in a chunk: when its first block does not fit beside it, that block is
      // cut at sentences so its beginning can join the heading.
      pieces.add(block, headingsOnly && block.kind !== 'heading' && sectionStart !== block.start && block.end - sectionStart > resolved.size);
      headingsOnly &&= block.kind === 'heading';
    }
    const heading = section.path.join(' > ');
    for (const [start, end] of pack(text, pieces, resolved)) {
      const slice = text.slice(start, end);
      chunks.push({
        ordinal: chunks.length,
        text: slice,
        start,
        end,
        tokens: estimateTokens(slice),
        ...(heading !== '' ? { heading } : {}),
      });
    }
  }
  return chunks;
}
