// Markdown inline syntax to plain words: emphasis, code spans, links, images, autolinks, inline HTML and escapes.
import { decodeEntities } from './entities.ts';

const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/;
const AUTOLINK = /<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>/y;
const EMAIL_AUTOLINK = /<([^\s<>@]+@[^\s<>@]+\.[^\s<>@]+)>/y;
const INLINE_TAG = /<\/?([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?\/?>/y;
const ENTITY = /&(?:#\d{1,8}|#[xX][0-9a-fA-F]{1,7}|[A-Za-z][A-Za-z0-9]{1,31});/y;
// Tags whose end is a visual break: the words on either side must not run together.
const BREAKING_TAGS = new Set(['br', 'p', 'div', 'li', 'td', 'th', 'tr', 'hr']);

// Searches are bounded so unmatched brackets and delimiters cost O(n) overall, not O(n²).
const MAX_LINK_TEXT = 1000;
const MAX_LINK_DESTINATION = 2048;
const MAX_EMPHASIS_SPAN = 2000;
const MAX_NESTING = 8;
// What a closer search must stop at, per delimiter: the delimiter itself, code spans and escapes.
const STOPS: Record<string, RegExp> = { '*': /[*`\\]/g, _: /[_`\\]/g, '~': /[~`\\]/g };

/** Reference-definition labels compare case-insensitively with whitespace collapsed. */
export function normalizeLabel(label: string): string {
  return label.replace(/\s+/g, ' ').trim().toLowerCase();
}

function isSpace(ch: string | undefined): boolean {
  return ch === undefined || /\s/.test(ch);
}

function isAlphanumeric(ch: string | undefined): boolean {
  return ch !== undefined && /[\p{L}\p{N}]/u.test(ch);
}

function runLength(s: string, i: number, ch: string): number {
  let j = i;
  while (s[j] === ch) j++;
  return j - i;
}

function matching(s: string, i: number, open: string, close: string, limit: number): number {
  let depth = 0;
  const end = Math.min(s.length, i + limit);
  for (let j = i; j < end; j++) {
    const ch = s[j];
    if (ch === '\\') j++;
    else if (ch === open) depth++;
    else if (ch === close && --depth === 0) return j;
  }
  return -1;
}

/** Turns one paragraph's Markdown inline syntax into its visible words. Newlines stay; callers collapse whitespace. */
export function inlineMarkdown(s: string, refs: ReadonlySet<string>): string {
  return new InlineReader(s, refs, 0).read();
}

class InlineReader {
  private out = '';
  private i = 0;
  /** Closing emphasis runs already paired with an opener: position → run length, dropped when reached. */
  private readonly closers = new Map<number, number>();
  /** Per emphasis delimiter and length: the text before this offset holds no closer for it. */
  private readonly searchedUpTo = new Map<string, number>();
  /** Where the last search for "]" landed, so a run of unmatched "[" does not rescan the text. */
  private nextBracket = { from: -1, at: -1 };
  /** Backtick run lengths with no closing run left in the text, so the search is not repeated. */
  private readonly unclosedTicks = new Set<number>();

  constructor(
    private readonly s: string,
    private readonly refs: ReadonlySet<string>,
    private readonly depth: number,
  ) {}

  read(): string {
    const s = this.s;
    const special = /[\\`![<*_~&]/g;
    while (this.i < s.length) {
      special.lastIndex = this.i;
      const match = special.exec(s);
      if (!match) {
        this.out += s.slice(this.i);
        break;
      }
      this.out += s.slice(this.i, match.index);
      this.i = match.index;
      this.special(match[0]);
    }
    return this.out;
  }

  private nested(text: string): string {
    return this.depth >= MAX_NESTING ? text : new InlineReader(text, this.refs, this.depth + 1).read();
  }

  private literal(text: string): void {
    this.out += text;
    this.i += text.length;
  }

  private special(ch: string): void {
    const s = this.s;
    const i = this.i;
    switch (ch) {
      case '\\': {
        const next = s[i + 1];
        if (next !== undefined && ASCII_PUNCTUATION.test(next)) {
          this.out += next;
          this.i += 2;
        } else this.literal('\\');
        return;
      }
      case '`':
        return this.codeSpan();
      case '!':
        if (s[i + 1] === '[') {
          const image = this.link(i + 1);
          if (image) {
            this.out += this.nested(image.text);
            this.i = image.end;
            return;
          }
        }
        return this.literal('!');
      case '[': {
        if (s[i + 1] === '^') {
          // Footnote reference: a marker, not words.
          const close = s.indexOf(']', i);
          if (close > 0 && close - i < 100 && !/\s/.test(s.slice(i, close))) {
            this.i = close + 1;
            return;
          }
        }
        const link = this.link(i);
        if (link) {
          this.out += this.nested(link.text);
          this.i = link.end;
          return;
        }
        return this.literal('[');
      }
      case '<':
        return this.angle();
      case '&': {
        ENTITY.lastIndex = i;
        const match = ENTITY.exec(s);
        if (match) {
          this.out += decodeEntities(match[0]);
          this.i += match[0].length;
        } else this.literal('&');
        return;
      }
      default:
        return this.emphasis(ch);
    }
  }

  private codeSpan(): void {
    const s = this.s;
    const k = runLength(s, this.i, '`');
    const fence = '`'.repeat(k);
    if (!this.unclosedTicks.has(k)) {
      let from = this.i + k;
      for (;;) {
        const at = s.indexOf(fence, from);
        if (at < 0) {
          this.unclosedTicks.add(k);
          break;
        }
        const length = runLength(s, at, '`');
        if (length === k) {
          let content = s.slice(this.i + k, at);
          if (content.length > 1 && content.startsWith(' ') && content.endsWith(' ') && content.trim() !== '') content = content.slice(1, -1);
          this.out += content;
          this.i = at + k;
          return;
        }
        from = at + length;
      }
    }
    this.literal(fence);
  }

  /** [text](destination), [text][ref], [text][] and [text] when ref is defined; undefined when it is not a link. */
  private link(open: number): { text: string; end: number } | undefined {
    const s = this.s;
    const cached = this.nextBracket;
    if (cached.from < 0 || cached.from > open || (cached.at >= 0 && cached.at < open)) this.nextBracket = { from: open, at: s.indexOf(']', open) };
    if (this.nextBracket.at < 0 || this.nextBracket.at - open > MAX_LINK_TEXT) return undefined;
    const close = matching(s, open, '[', ']', MAX_LINK_TEXT);
    if (close < 0) return undefined;
    const text = s.slice(open + 1, close);
    const after = close + 1;
    if (s[after] === '(') {
      const end = matching(s, after, '(', ')', MAX_LINK_DESTINATION);
      if (end >= 0) return { text, end: end + 1 };
    }
    if (s[after] === '[') {
      const end = s.indexOf(']', after + 1);
      if (end > 0 && end - after <= MAX_LINK_TEXT && !s.slice(after + 1, end).includes('[')) return { text, end: end + 1 };
    }
    if (this.refs.has(normalizeLabel(text))) return { text, end: after };
    return undefined;
  }

  private angle(): void {
    const s = this.s;
    for (const pattern of [AUTOLINK, EMAIL_AUTOLINK]) {
      pattern.lastIndex = this.i;
      const match = pattern.exec(s);
      if (match) {
        this.out += match[1] ?? '';
        this.i += match[0].length;
        return;
      }
    }
    INLINE_TAG.lastIndex = this.i;
    const tag = INLINE_TAG.exec(s);
    if (tag) {
      if (BREAKING_TAGS.has((tag[1] ?? '').toLowerCase())) this.out += ' ';
      this.i += tag[0].length;
      return;
    }
    this.literal('<');
  }

  // CommonMark-like: an opener needs a later closer of the same length, so "2*3" and "a * b" stay literal,
  // and "_" never pairs inside a word, so snake_case survives.
  private emphasis(ch: string): void {
    const s = this.s;
    const i = this.i;
    const k = runLength(s, i, ch);
    const paired = this.closers.get(i);
    if (paired !== undefined && paired === k) {
      this.i += k;
      return;
    }
    const before = s[i - 1];
    const after = s[i + k];
    const canOpen = !isSpace(after) && (ch !== '_' || !isAlphanumeric(before)) && (ch !== '~' || k === 2);
    if (canOpen) {
      const closer = this.findCloser(ch, k, i + k);
      if (closer !== undefined) {
        this.closers.set(closer, k);
        this.i += k;
        return;
      }
    }
    this.literal(ch.repeat(k));
  }

  // Code spans are opaque: a delimiter inside one cannot close emphasis opened outside it. A failed search is
  // remembered per delimiter, so a run of unmatched openers is scanned once, not once per opener.
  private findCloser(ch: string, k: number, from: number): number | undefined {
    const s = this.s;
    const limit = Math.min(s.length, from + MAX_EMPHASIS_SPAN);
    const key = `${ch}${k}`;
    const searched = this.searchedUpTo.get(key) ?? -1;
    const stops = STOPS[ch] ?? /[`\\]/g;
    let at = Math.max(from, searched);
    while (at < limit) {
      stops.lastIndex = at;
      const stop = stops.exec(s);
      if (!stop || stop.index >= limit) break;
      at = stop.index;
      const c = s[at];
      if (c === '`') {
        const ticks = runLength(s, at, '`');
        const close = this.unclosedTicks.has(ticks) ? -1 : s.indexOf('`'.repeat(ticks), at + ticks);
        at = close < 0 ? at + ticks : close + ticks;
      } else if (c === '\\') {
        at += 2;
      } else {
        const length = runLength(s, at, ch);
        const canClose = at > from && !isSpace(s[at - 1]) && (ch !== '_' || !isAlphanumeric(s[at + length]));
        if (length === k && canClose) return at;
        at += length;
      }
    }
    this.searchedUpTo.set(key, limit);
    return undefined;
  }
}
