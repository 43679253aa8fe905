// Streaming NDJSON: splits a byte stream into numbered lines without buffering the body, with a per-line size limit.

/** One input line: its 1-based number and its text, or why it could not be read (it is skipped, the next line is read). */
export type NdjsonLine =
  | { readonly line: number; readonly text: string }
  | { readonly line: number; readonly error: 'too-large' | 'not-utf8'; readonly bytes: number };

const NEWLINE = 0x0a;

/**
 * Yields every non-blank line of `body` (LF or CRLF endings, last line with or without a newline). A line longer than
 * `maxLineBytes` is not held in memory: its bytes are counted and dropped up to its newline and it comes back as
 * `too-large`. Reading is pulled: nothing more is read from the body until the consumer asks for the next line.
 */
export async function* ndjsonLines(body: ReadableStream<Uint8Array>, maxLineBytes: number): AsyncGenerator<NdjsonLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let parts: Uint8Array[] = [];
  let size = 0;
  let overflow = false;
  let number = 0;

  const finish = (): NdjsonLine | undefined => {
    number += 1;
    const bytes = size;
    const chunks = parts;
    const tooLarge = overflow;
    parts = [];
    size = 0;
    overflow = false;
    if (tooLarge) return { line: number, error: 'too-large', bytes };
    const joined = chunks.length === 1 ? (chunks[0] as Uint8Array) : concat(chunks, bytes);
    let text: string;
    try {
      text = decoder.decode(joined);
    } catch {
      return { line: number, error: 'not-utf8', bytes };
    }
    if (text.endsWith('\r')) text = text.slice(0, -1);
    return text.trim() === '' ? undefined : { line: number, text };
  };

  const append = (piece: Uint8Array) => {
    size += piece.byteLength;
    if (overflow) return;
    if (size > maxLineBytes) {
      overflow = true;
      parts = [];
      return;
    }
    parts.push(piece);
  };

  const reader = body.getReader();
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      let start = 0;
      for (let i = value.indexOf(NEWLINE); i !== -1; i = value.indexOf(NEWLINE, start)) {
        append(value.subarray(start, i));
        start = i + 1;
        const line = finish();
        if (line) yield line;
      }
      // Copy the tail: the reader may reuse its buffer for the next chunk.
      if (start < value.byteLength) append(value.slice(start));
    }
    if (size > 0 || overflow) {
      const line = finish();
      if (line) yield line;
    }
  } finally {
    // The consumer stopped early (client gone, server error): stop reading the body.
    if (!ended) void reader.cancel().catch(() => undefined);
    else reader.releaseLock();
  }
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
