// The normalised-document shape (text + structural blocks), the builder every format writes through, and text cleaning.

export type BlockKind = 'heading' | 'paragraph' | 'code' | 'list' | 'table' | 'quote';

/** A structural unit of the normalised text: `text.slice(start, end)` is its content, trimmed and non-empty. */
export interface Block {
  readonly start: number;
  readonly end: number;
  readonly kind: BlockKind;
  /** Headings the block sits under, outermost first; a heading block's path ends with itself. */
  readonly headingPath: readonly string[];
}

export interface NormalizedText {
  readonly text: string;
  readonly blocks: readonly Block[];
}

/** Blocks are separated by one blank line, so the text reads naturally and block boundaries are visible in it. */
export const BLOCK_SEPARATOR = '\n\n';

// C0/C1 controls except \t and \n (CR is turned into LF before this runs), plus invisible characters that only
// split words for search: zero-width space, BOM and soft hyphen. ZWJ/ZWNJ stay: emoji sequences and Persian need them.
const INVISIBLE = /[\x00-\x08\x0B-\x1F\x7F-\x9F\u200B\uFEFF\u00AD]/g;
const HAS_INVISIBLE = /[\x00-\x08\x0B-\x1F\x7F-\x9F\u200B\uFEFF\u00AD]/;
const LINE_BREAKS = /\r\n?|[\u2028\u2029]/g;
// Most documents need no repair: one scan to find out is cheaper than rebuilding a megabyte string twice.
const NEEDS_REPAIR = /[\x00-\x08\x0B-\x1F\x7F-\x9F\u200B\uFEFF\u00AD\u2028\u2029]/;

/** First pass over any input: well-formed UTF-16, LF line ends, no control or invisible characters. */
export function prepareInput(text: string): string {
  const wellFormed = text.isWellFormed() ? text : text.toWellFormed();
  return NEEDS_REPAIR.test(wellFormed) ? wellFormed.replace(LINE_BREAKS, '\n').replace(INVISIBLE, '') : wellFormed;
}

/** One line of prose: every whitespace run (tabs, NBSP, newlines included) becomes one space, ends trimmed. */
export function cleanInline(text: string): string {
  // Matching only what changes (runs, or a lone non-space) leaves ordinary single spaces alone: 10× faster on prose.
  return text.replace(/\s{2,}|[^\S ]/g, ' ').trim();
}

/** Prose that keeps its line structure: each line cleaned like cleanInline, blank lines dropped. */
export function cleanLines(text: string): string {
  return text
    .replace(/[^\S\n]{2,}|[^\S\n ]/g, ' ')
    .replace(/ ?\n[ \n]*/g, '\n')
    .trim();
}

/** Code keeps its indentation and tabs; only trailing spaces and the blank lines around it go. */
export function cleanCode(text: string): string {
  const lines = text.split('\n').map((line) => line.trimEnd());
  let first = 0;
  let last = lines.length;
  while (first < last && lines[first] === '') first++;
  while (last > first && lines[last - 1] === '') last--;
  return lines.slice(first, last).join('\n');
}

/**
 * Accumulates blocks into one text. Callers pass text already cleaned for its kind; the builder applies NFC and
 * strips characters that entity decoding may have introduced, then records offsets after that, so they stay exact.
 */
export class BlockBuilder {
  private readonly parts: string[] = [];
  private readonly blocks: Block[] = [];
  private length = 0;
  private readonly headings: Array<{ level: number; text: string }> = [];
  private path: readonly string[] = [];

  /** A heading closes the section above it: deeper or equal levels are popped before it is pushed. */
  heading(level: number, text: string): void {
    const clean = cleanInline(finalChars(text));
    if (clean === '') return;
    while (this.headings.length > 0 && (this.headings.at(-1)?.level ?? 0) >= level) this.headings.pop();
    this.headings.push({ level, text: clean });
    this.path = this.headings.map((h) => h.text);
    this.push('heading', clean);
  }

  add(kind: Exclude<BlockKind, 'heading'>, text: string): void {
    const clean = finalChars(text).trim();
    if (clean !== '') this.push(kind, clean);
  }

  build(): NormalizedText {
    return { text: this.parts.join(''), blocks: this.blocks };
  }

  private push(kind: BlockKind, text: string): void {
    if (this.blocks.length > 0) {
      this.parts.push(BLOCK_SEPARATOR);
      this.length += BLOCK_SEPARATOR.length;
    }
    this.blocks.push({ start: this.length, end: this.length + text.length, kind, headingPath: this.path });
    this.parts.push(text);
    this.length += text.length;
  }
}

function finalChars(text: string): string {
  const nfc = text.normalize('NFC');
  return HAS_INVISIBLE.test(nfc) ? nfc.replace(INVISIBLE, '') : nfc;
}
