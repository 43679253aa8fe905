// Markdown to blocks: a line-based reader for headings, fences, lists, quotes and tables; inline syntax goes to inline.ts.
import { BlockBuilder, cleanCode, cleanInline, type NormalizedText } from './blocks.ts';
import { inlineMarkdown, normalizeLabel } from './inline.ts';

const FENCE = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
const THEMATIC_BREAK = /^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$/;
const LIST_ITEM = /^([ \t]*)([-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?$/;
const QUOTE_MARKERS = /^(?: {0,3}>[ ]?)+/;
const REFERENCE_DEFINITION = /^ {0,3}\[([^\]^][^\]]{0,998})\]:[ \t]*\S/;
const FOOTNOTE_DEFINITION = /^ {0,3}\[\^[^\]]+\]:[ \t]*/;
const TABLE_DELIMITER = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const INDENTED_CODE = /^(?: {4}|\t)/;
const FRONT_MATTER_KEY = /^[A-Za-z0-9_-]+[ \t]*:/;

interface ListItem {
  readonly prefix: string;
  readonly text: string[];
}

function isBlank(line: string): boolean {
  return line.trim() === '';
}

function indentWidth(whitespace: string): number {
  let width = 0;
  for (const ch of whitespace) width += ch === '\t' ? 4 - (width % 4) : 1;
  return width;
}

function referenceLabels(src: string): Set<string> {
  const labels = new Set<string>();
  for (const match of src.matchAll(/^ {0,3}\[([^\]^\n][^\]\n]{0,998})\]:/gm)) labels.add(normalizeLabel(match[1] ?? ''));
  return labels;
}

// YAML front matter is metadata for site generators, not prose.
function frontMatterEnd(lines: readonly string[]): number {
  if (lines[0]?.trim() !== '---' || !FRONT_MATTER_KEY.test(lines[1] ?? '')) return 0;
  for (let i = 1; i < Math.min(lines.length, 200); i++) {
    const line = lines[i]?.trim();
    if (line === '---' || line === '...') return i + 1;
  }
  return 0;
}

class MarkdownReader {
  private paragraph: string[] = [];
  private quote: string[] = [];
  private table: string[] = [];
  private items: ListItem[] = [];
  private listIndents: number[] = [];
  private blankInList = false;
  private inComment = false;

  constructor(
    private readonly lines: readonly string[],
    private readonly refs: ReadonlySet<string>,
    private readonly out: BlockBuilder,
  ) {}

  read(): void {
    const lines = this.lines;
    for (let i = frontMatterEnd(lines); i < lines.length; i++) {
      const original = lines[i] ?? '';
      const line = this.withoutComments(original);
      if (isBlank(line)) {
        // A line that held only a comment is invisible; it does not end a paragraph.
        if (isBlank(original)) this.blank();
        continue;
      }
      i = this.line(line, i);
    }
    this.flushAll();
  }

  private inline(text: string): string {
    return cleanInline(inlineMarkdown(text, this.refs));
  }

  /** Handles one non-blank line; returns the index of the last line it consumed. */
  private line(line: string, i: number): number {
    const fence = FENCE.exec(line);
    if (fence && !(fence[2]?.startsWith('`') && fence[3]?.includes('`'))) {
      this.flushAll();
      return this.fencedCode(i, (fence[1] ?? '').length, fence[2] ?? '```');
    }
    const atx = ATX.exec(line);
    if (atx) {
      this.flushAll();
      this.out.heading((atx[1] ?? '#').length, this.inline(atx[2] ?? ''));
      return i;
    }
    const setext = SETEXT.exec(line);
    if (setext && this.paragraph.length > 0) {
      const text = this.inline(this.paragraph.join('\n'));
      this.paragraph = [];
      this.out.heading(setext[1]?.startsWith('=') ? 1 : 2, text);
      return i;
    }
    if (THEMATIC_BREAK.test(line)) {
      this.flushAll();
      return i;
    }
    const quote = QUOTE_MARKERS.exec(line);
    if (quote) {
      if (this.quote.length === 0) this.flushAll();
      // A heading inside a quote is emphasis, not a section of the document.
      this.quote.push(line.slice(quote[0].length).replace(/^#{1,6}[ \t]+/, ''));
      return i;
    }
    if (this.items.length === 0 && this.paragraph.length === 0 && this.quote.length === 0 && this.table.length === 0 && INDENTED_CODE.test(line)) {
      this.flushAll();
      return this.indentedCode(i);
    }
    const item = LIST_ITEM.exec(line);
    // Only "1." may interrupt a paragraph, so a wrapped line starting "2024. " stays prose (as in CommonMark).
    if (item && (this.paragraph.length === 0 || !/^\d/.test(item[2] ?? '') || /^1[.)]$/.test(item[2] ?? ''))) {
      this.listItem(indentWidth(item[1] ?? ''), item[2] ?? '-', item[3] ?? '');
      return i;
    }
    if (this.items.length > 0) {
      const last = this.items.at(-1);
      // Without a blank line any text continues the item (lazy continuation); after one it must be indented.
      if (last && (!this.blankInList || indentWidth(/^[ \t]*/.exec(line)?.[0] ?? '') >= 2)) {
        last.text.push(line);
        this.blankInList = false;
        return i;
      }
      this.flushList();
    }
    if (this.quote.length > 0) {
      this.quote.push(line);
      return i;
    }
    if (this.table.length > 0) {
      if (line.includes('|')) {
        this.table.push(this.row(line));
        return i;
      }
      this.flushTable();
    }
    if (this.paragraph.length === 0 && REFERENCE_DEFINITION.test(line)) return i;
    const next = this.lines[i + 1];
    if (this.paragraph.length === 0 && line.includes('|') && next !== undefined && next.includes('|') && TABLE_DELIMITER.test(next)) {
      this.flushAll();
      this.table.push(this.row(line));
      return i + 1;
    }
    this.paragraph.push(line.replace(FOOTNOTE_DEFINITION, ''));
    return i;
  }

  private blank(): void {
    this.flushParagraph();
    this.flushQuote();
    this.flushTable();
    if (this.items.length > 0) this.blankInList = true;
  }

  private withoutComments(line: string): string {
    let rest = line;
    let out = '';
    for (;;) {
      if (this.inComment) {
        const end = rest.indexOf('-->');
        if (end < 0) return out;
        rest = rest.slice(end + 3);
        this.inComment = false;
      }
      const start = rest.indexOf('<!--');
      if (start < 0) return out + rest;
      out += rest.slice(0, start);
      rest = rest.slice(start + 4);
      this.inComment = true;
    }
  }

  private fencedCode(open: number, indent: number, fence: string): number {
    const marker = fence[0] ?? '`';
    const code: string[] = [];
    // Content is indented relative to the fence; strip that much and no more.
    const indentation = new RegExp(`^ {0,${indent}}`);
    let i = open + 1;
    for (; i < this.lines.length; i++) {
      const line = this.lines[i] ?? '';
      const close = FENCE.exec(line);
      if (close && close[2]?.[0] === marker && (close[2]?.length ?? 0) >= fence.length && isBlank(close[3] ?? '')) break;
      code.push(line.replace(indentation, ''));
    }
    this.out.add('code', cleanCode(code.join('\n')));
    return i;
  }

  private indentedCode(open: number): number {
    const code: string[] = [];
    let i = open;
    for (; i < this.lines.length; i++) {
      const line = this.lines[i] ?? '';
      if (!isBlank(line) && !INDENTED_CODE.test(line)) break;
      code.push(line.replace(/^(?: {4}|\t)/, ''));
    }
    this.out.add('code', cleanCode(code.join('\n')));
    return i - 1;
  }

  private listItem(indent: number, marker: string, text: string): void {
    if (this.items.length === 0) {
      this.flushAll();
      this.listIndents = [];
    } else {
      this.flushParagraph();
      this.flushQuote();
      this.flushTable();
    }
    this.blankInList = false;
    while ((this.listIndents.at(-1) ?? -1) > indent) this.listIndents.pop();
    if ((this.listIndents.at(-1) ?? -1) < indent) this.listIndents.push(indent);
    const depth = this.listIndents.length - 1;
    const bullet = /\d/.test(marker) ? `${marker.slice(0, -1)}. ` : '- ';
    this.items.push({ prefix: '  '.repeat(depth) + bullet, text: [text] });
  }

  private row(line: string): string {
    const cells = line
      .trim()
      .replace(/^\|/, '')
      .replace(/(?<!\\)\|$/, '')
      .split(/(?<!\\)\|/)
      .map((cell) => this.inline(cell))
      .filter((cell) => cell !== '');
    return cells.join(' | ');
  }

  private flushAll(): void {
    this.flushParagraph();
    this.flushQuote();
    this.flushTable();
    this.flushList();
  }

  private flushParagraph(): void {
    if (this.paragraph.length === 0) return;
    this.out.add('paragraph', this.inline(this.paragraph.join('\n')));
    this.paragraph = [];
  }

  // Blank quote lines ("> ") separate paragraphs inside the quote; each becomes a line of the quote block.
  private flushQuote(): void {
    if (this.quote.length === 0) return;
    const paragraphs: string[][] = [[]];
    for (const line of this.quote) {
      if (isBlank(line)) paragraphs.push([]);
      else paragraphs.at(-1)?.push(line);
    }
    const lines = paragraphs.map((p) => this.inline(p.join('\n'))).filter((p) => p !== '');
    this.out.add('quote', lines.join('\n'));
    this.quote = [];
  }

  private flushTable(): void {
    if (this.table.length === 0) return;
    this.out.add('table', this.table.filter((row) => row !== '').join('\n'));
    this.table = [];
  }

  private flushList(): void {
    if (this.items.length === 0) return;
    const lines: string[] = [];
    for (const item of this.items) {
      const text = this.inline(item.text.join('\n'));
      if (text !== '') lines.push(item.prefix + text);
    }
    this.out.add('list', lines.join('\n'));
    this.items = [];
    this.blankInList = false;
  }
}

/** Converts a Markdown document into normalised text and blocks; headings define the heading path. */
export function markdownToBlocks(markdown: string, out: BlockBuilder = new BlockBuilder()): NormalizedText {
  new MarkdownReader(markdown.split('\n'), referenceLabels(markdown), out).read();
  return out.build();
}
