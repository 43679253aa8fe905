// Document text to clean text plus structure: picks the format (declared or sniffed) and runs its converter.
import type { ContentType } from '../../streams/events/index.ts';
import { BlockBuilder, cleanLines, prepareInput, type NormalizedText } from './blocks.ts';
import { htmlToBlocks } from './html.ts';
import { markdownToBlocks } from './markdown.ts';

export type { Block, BlockKind, NormalizedText } from './blocks.ts';

// Sniffing reads the head of a document only: formats announce themselves early, and it keeps big inputs cheap.
const SNIFF_CHARS = 64 * 1024;
const HTML_ROOT = /^\s*(?:<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])/i;
const HTML_TAG = /<\/?(?:p|div|span|a|h[1-6]|ul|ol|li|table|tr|td|th|br|pre|blockquote|section|article|header|footer|nav|main|em|strong|b|i|img|script|style)(?:\s[^<>]*)?\/?>/gi;
const HTML_CLOSING_TAG = /<\/(?:p|div|span|a|h[1-6]|ul|ol|li|table|tr|td|th|pre|blockquote|section|article|em|strong|b|i)>/i;
const MD_STRONG = /^(?: {0,3}#{1,6}[ \t]+\S| {0,3}(?:```|~~~))|\[[^\]\n]+\]\([^)\s]+\)/m;
const CODE_IN_MARKDOWN = /^ {0,3}(`{3,}|~{3,})[^\n]*\n[\s\S]*?(?:^ {0,3}\1[ \t]*$|(?![\s\S]))|`[^`\n]+`/gm;
const MD_LIST_LINE = /^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S/gm;

/**
 * Guesses the format of undeclared text. HTML needs real markup (a document root, or several tags with at least one
 * end tag, outnumbering Markdown's signals); Markdown needs a heading, a fence, a link, or two list lines.
 */
export function sniffContentType(text: string): ContentType {
  const head = text.slice(0, SNIFF_CHARS);
  if (HTML_ROOT.test(head)) return 'text/html';
  // Markup shown inside Markdown code is an example, not the document's format.
  const tags = head.replace(CODE_IN_MARKDOWN, '').match(HTML_TAG)?.length ?? 0;
  const strong = MD_STRONG.test(head);
  const listLines = head.match(MD_LIST_LINE)?.length ?? 0;
  const markdownSignals = (strong ? 2 : 0) + listLines;
  if (tags >= 2 && HTML_CLOSING_TAG.test(head) && tags > markdownSignals) return 'text/html';
  if (strong || listLines >= 2) return 'text/markdown';
  return 'text/plain';
}

/** Plain text: paragraphs are runs of non-blank lines; each line has its whitespace collapsed and trimmed. */
export function plainToBlocks(text: string, out: BlockBuilder = new BlockBuilder()): NormalizedText {
  for (const paragraph of text.split(/\n\s*\n/)) out.add('paragraph', cleanLines(paragraph));
  return out.build();
}

/** Normalises document text: Unicode NFC, LF line ends, no control characters, format syntax turned into structure. */
export function normalizeText(text: string, contentType?: ContentType): NormalizedText {
  const input = prepareInput(text);
  switch (contentType ?? sniffContentType(input)) {
    case 'text/html':
      return htmlToBlocks(input);
    case 'text/markdown':
      return markdownToBlocks(input);
    case 'text/plain':
      return plainToBlocks(input);
  }
}
