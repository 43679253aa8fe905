// HTML to blocks: a forgiving tokenizer plus a walker that keeps readable text and its structure and never throws.
import { BlockBuilder, cleanCode, cleanInline, type BlockKind, type NormalizedText } from './blocks.ts';
import { decodeEntities } from './entities.ts';

type Token =
  | { readonly t: 'text'; readonly text: string }
  | { readonly t: 'open'; readonly name: string; readonly selfClosing: boolean; readonly attrs: string }
  | { readonly t: 'close'; readonly name: string };

// Raw-text elements: their content is not markup, so the tokenizer jumps to the end tag. Only textarea's is text.
const RAW_DROPPED = new Set(['script', 'style', 'noscript', 'iframe', 'noembed', 'noframes', 'title', 'xmp']);
const RAW_KEPT = new Set(['textarea']);
// Elements whose content is not part of the document's prose. Skipped only when closed: an unclosed one is
// treated as transparent rather than swallowing the rest of the page.
const SKIPPED = new Set(['head', 'template', 'svg', 'math', 'nav', 'select', 'object', 'canvas', 'audio', 'video']);

const PARAGRAPH_LIKE = new Set([
  'p', 'div', 'section', 'article', 'main', 'header', 'footer', 'aside', 'address', 'figure', 'figcaption',
  'details', 'summary', 'dl', 'dt', 'dd', 'fieldset', 'legend', 'form', 'hgroup', 'center', 'body', 'html',
  'dialog', 'caption', 'option', 'label', 'output', 'search',
]);
const LISTS = new Set(['ul', 'ol', 'menu']);
const HEADING = /^h([1-6])$/;
// Cells are joined with " | " when a row is finished; this marks a cell start inside the row's text until then.
const CELL = '\u0001';

/** Splits HTML into text, start-tag and end-tag tokens. Comments, doctypes and processing instructions vanish. */
export function tokenizeHtml(html: string): Token[] {
  const tokens: Token[] = [];
  const n = html.length;
  let i = 0;
  let textStart = 0;
  const flushText = (end: number) => {
    if (end > textStart) tokens.push({ t: 'text', text: html.slice(textStart, end) });
  };
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt < 0) break;
    const next = html.charCodeAt(lt + 1);
    if (next === 0x21 /* ! */) {
      flushText(lt);
      const end = html.startsWith('<!--', lt) ? endOf(html, '-->', lt + 4) : endOf(html, '>', lt + 2);
      i = textStart = end;
      continue;
    }
    if (next === 0x3f /* ? */) {
      flushText(lt);
      i = textStart = endOf(html, '>', lt + 2);
      continue;
    }
    const closing = next === 0x2f; /* / */
    const nameStart = closing ? lt + 2 : lt + 1;
    let nameEnd = nameStart;
    while (nameEnd < n && isNameChar(html.charCodeAt(nameEnd), nameEnd === nameStart)) nameEnd++;
    if (nameEnd === nameStart) {
      // "a < b", "</ >": not a tag, so it is text.
      i = lt + 1;
      continue;
    }
    flushText(lt);
    const tagEnd = findTagEnd(html, nameEnd);
    const name = html.slice(nameStart, nameEnd).toLowerCase();
    i = textStart = tagEnd;
    if (closing) {
      tokens.push({ t: 'close', name });
      continue;
    }
    const inner = html.slice(nameEnd, Math.max(nameEnd, tagEnd - 1));
    const selfClosing = inner.endsWith('/');
    tokens.push({ t: 'open', name, selfClosing, attrs: inner });
    if (!selfClosing && (RAW_DROPPED.has(name) || RAW_KEPT.has(name))) {
      const close = new RegExp(`</${name}[\\s/>]`, 'ig');
      close.lastIndex = tagEnd;
      const match = close.exec(html);
      const contentEnd = match ? match.index : n;
      if (RAW_KEPT.has(name) && contentEnd > tagEnd) tokens.push({ t: 'text', text: html.slice(tagEnd, contentEnd) });
      tokens.push({ t: 'close', name });
      i = textStart = match ? findTagEnd(html, contentEnd + 2 + name.length) : n;
    }
  }
  flushText(n);
  return tokens;
}

function endOf(html: string, marker: string, from: number): number {
  const at = html.indexOf(marker, from);
  return at < 0 ? html.length : at + marker.length;
}

function isNameChar(code: number, first: boolean): boolean {
  const letter = (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a);
  if (first) return letter;
  return letter || (code >= 0x30 && code <= 0x39) || code === 0x2d || code === 0x3a || code === 0x5f;
}

// Quoted attribute values may contain '>', so they are skipped whole; an unterminated quote falls back to the next '>'.
function findTagEnd(html: string, from: number): number {
  const n = html.length;
  let i = from;
  while (i < n) {
    const c = html.charCodeAt(i);
    if (c === 0x3e /* > */) return i + 1;
    if ((c === 0x22 || c === 0x27) && previousNonSpace(html, i, from) === 0x3d /* = */) {
      const close = html.indexOf(c === 0x22 ? '"' : "'", i + 1);
      if (close >= 0) {
        i = close + 1;
        continue;
      }
      return endOf(html, '>', i);
    }
    i++;
  }
  return n;
}

function previousNonSpace(html: string, i: number, floor: number): number {
  for (let j = i - 1; j >= floor; j--) {
    const c = html.charCodeAt(j);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0c) return c;
  }
  return -1;
}

/** Value of one attribute from a start tag's attribute text, entities decoded. */
export function attribute(attrs: string, name: string): string | undefined {
  const match = new RegExp(`(?:^|\\s)${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s"'>]+))`, 'i').exec(attrs);
  if (!match) return undefined;
  return decodeEntities(match[1] ?? match[2] ?? match[3] ?? '');
}

/** Index of each skipped element's start tag → index of its matching end tag; unmatched start tags are absent. */
function skippedRanges(tokens: readonly Token[]): Map<number, number> {
  const ranges = new Map<number, number>();
  const open = new Map<string, number[]>();
  tokens.forEach((token, index) => {
    if (token.t === 'text' || !SKIPPED.has(token.name)) return;
    const stack = open.get(token.name) ?? [];
    open.set(token.name, stack);
    if (token.t === 'open' && !token.selfClosing) stack.push(index);
    else if (token.t === 'close') {
      const start = stack.pop();
      if (start !== undefined) ranges.set(start, index);
    }
  });
  return ranges;
}

interface ListState {
  readonly ordered: boolean;
  counter: number;
}

type Container = { readonly kind: 'list'; readonly list: ListState } | { readonly kind: 'table' | 'quote' };

/** Walks tokens, collecting lines into the current block and emitting blocks at structural boundaries. */
class HtmlWalker {
  private readonly containers: Container[] = [];
  private lines: string[] = [];
  private line: string[] = [];
  private prefix = '';
  private preDepth = 0;
  private pre: string[] = [];
  private headingLevel = 0;
  private headingText: string[] = [];

  constructor(private readonly out: BlockBuilder) {}

  text(raw: string): void {
    const text = decodeEntities(raw);
    if (this.preDepth > 0) this.pre.push(text);
    else if (this.headingLevel > 0) this.headingText.push(text);
    else this.line.push(text);
  }

  open(name: string, attrs: string): void {
    const level = HEADING.exec(name)?.[1];
    if (level !== undefined) {
      this.endHeading();
      this.flushBlock();
      this.headingLevel = Number(level);
      return;
    }
    if (name === 'img') {
      const alt = attribute(attrs, 'alt');
      if (alt) this.text(` ${alt} `);
      return;
    }
    if (name === 'br') {
      if (this.preDepth > 0) this.pre.push('\n');
      else this.text(' ');
      if (this.preDepth === 0 && this.headingLevel === 0 && !this.inTable()) this.lineBreak();
      return;
    }
    if (this.preDepth > 0) return;
    if (name === 'pre' || name === 'listing') {
      this.endHeading();
      this.flushBlock();
      this.preDepth = 1;
      return;
    }
    // Authors wrap heading text in divs and paragraphs; the heading goes on (as browsers render it) with a space.
    if (this.headingLevel > 0 && PARAGRAPH_LIKE.has(name)) {
      this.headingText.push(' ');
      return;
    }
    if (name === 'hr') {
      this.endHeading();
      this.flushBlock();
    } else if (LISTS.has(name)) {
      this.enterContainer({ kind: 'list', list: { ordered: name === 'ol', counter: startOf(attrs) } });
    } else if (name === 'table' || name === 'blockquote') {
      this.enterContainer({ kind: name === 'table' ? 'table' : 'quote' });
    } else if (name === 'li') {
      this.endHeading();
      this.lineBreak();
      this.prefix = this.itemPrefix();
    } else if (name === 'tr') {
      this.endHeading();
      this.lineBreak();
    } else if (name === 'td' || name === 'th') {
      this.line.push(CELL);
    } else if (PARAGRAPH_LIKE.has(name)) {
      this.endHeading();
      this.blockBoundary();
    }
  }

  close(name: string): void {
    if (name === 'pre' || name === 'listing') {
      if (this.preDepth > 0) this.endPre();
      return;
    }
    if (this.preDepth > 0) return;
    if (HEADING.test(name)) {
      this.endHeading();
      return;
    }
    if (this.headingLevel > 0 && PARAGRAPH_LIKE.has(name)) {
      this.headingText.push(' ');
      return;
    }
    if (LISTS.has(name)) this.leaveContainer('list');
    else if (name === 'table') this.leaveContainer('table');
    else if (name === 'blockquote') this.leaveContainer('quote');
    else if (name === 'li' || name === 'tr') this.lineBreak();
    else if (PARAGRAPH_LIKE.has(name)) {
      this.endHeading();
      this.blockBoundary();
    }
  }

  finish(): void {
    if (this.preDepth > 0) this.endPre();
    this.endHeading();
    this.flushBlock();
  }

  private inTable(): boolean {
    return this.containers.some((c) => c.kind === 'table');
  }

  // Inside a list, table or quote a paragraph is a line of the container's block, not a block of its own;
  // inside a table cell it is only a space, so a row stays on one line.
  private blockBoundary(): void {
    if (this.containers.at(-1)?.kind === 'table') this.line.push(' ');
    else if (this.containers.length === 0) this.flushBlock();
    // "<li><p>text" must keep the item's bullet: only a line with text in it ends here.
    else if (this.line.some((part) => part.trim() !== '')) this.lineBreak();
  }

  private enterContainer(container: Container): void {
    this.endHeading();
    if (this.containers.length === 0) this.flushBlock();
    else this.lineBreak();
    this.containers.push(container);
  }

  // Closes the innermost container of this kind and any left open inside it (malformed nesting).
  private leaveContainer(kind: Container['kind']): void {
    const index = this.containers.findLastIndex((c) => c.kind === kind);
    if (index < 0) return;
    this.endHeading();
    if (index === 0) this.flushBlock();
    else this.lineBreak();
    this.containers.length = index;
  }

  private itemPrefix(): string {
    const lists = this.containers.filter((c): c is Extract<Container, { kind: 'list' }> => c.kind === 'list');
    const list = lists.at(-1)?.list;
    const indent = '  '.repeat(Math.max(0, lists.length - 1));
    if (list?.ordered) return `${indent}${list.counter++}. `;
    return `${indent}- `;
  }

  private lineBreak(): void {
    const cells = this.line.join('').split(CELL).map(cleanInline).filter((cell) => cell !== '');
    const text = cells.join(' | ');
    if (text !== '') this.lines.push(this.prefix + text);
    this.line = [];
    this.prefix = '';
  }

  private flushBlock(): void {
    this.lineBreak();
    if (this.lines.length > 0) this.out.add(this.blockKind(), this.lines.join('\n'));
    this.lines = [];
  }

  private blockKind(): Exclude<BlockKind, 'heading' | 'code'> {
    return this.containers[0]?.kind ?? 'paragraph';
  }

  private endHeading(): void {
    if (this.headingLevel === 0) return;
    this.out.heading(this.headingLevel, this.headingText.join(''));
    this.headingLevel = 0;
    this.headingText = [];
  }

  private endPre(): void {
    // HTML drops one newline right after <pre>; the rest of the whitespace is the author's.
    const text = this.pre.join('').replace(/^\n/, '');
    this.out.add('code', cleanCode(text));
    this.preDepth = 0;
    this.pre = [];
  }
}

function startOf(attrs: string): number {
  const start = Number.parseInt(attribute(attrs, 'start') ?? '', 10);
  return Number.isSafeInteger(start) ? start : 1;
}

/** Converts an HTML document or fragment into normalised text and blocks. */
export function htmlToBlocks(html: string, out: BlockBuilder = new BlockBuilder()): NormalizedText {
  const tokens = tokenizeHtml(html);
  const skipped = skippedRanges(tokens);
  const walker = new HtmlWalker(out);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    if (token.t === 'text') walker.text(token.text);
    else if (token.t === 'close') walker.close(token.name);
    else {
      const end = skipped.get(i);
      if (end !== undefined) i = end;
      else walker.open(token.name, token.attrs);
    }
  }
  walker.finish();
  return out.build();
}
