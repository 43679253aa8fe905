// Server-sent events read from a byte stream, as the WHATWG spec parses them: fields, multi-line data, comments, BOM.

export interface ServerSentEvent {
  readonly event: string;
  readonly data: string;
  readonly id?: string;
}

/**
 * Parses an event stream (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
 * lines end with CRLF, LF or CR; `:` starts a comment; an event is dispatched at a blank line when it has data.
 */
export async function* parseSse(body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let first = true;
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  const iterable = body as AsyncIterable<Uint8Array>;
  function* lines(final: boolean): Generator<string> {
    for (;;) {
      const match = /\r\n|\n|\r/.exec(buffer);
      if (!match) break;
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (!final && match[0] === '\r' && match.index === buffer.length - 1) break;
      yield buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
    }
    if (final && buffer !== '') {
      yield buffer;
      buffer = '';
    }
  }
  function* feed(final: boolean): Generator<ServerSentEvent> {
    for (const line of lines(final)) {
      if (line === '') {
        if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), ...(id !== undefined ? { id } : {}) };
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id' && !value.includes('\0')) id = value;
    }
  }
  for await (const chunk of iterable) {
    buffer += decoder.decode(chunk, { stream: true });
    if (first && buffer.length > 0) {
      if (buffer.charCodeAt(0) === 0xfeff) buffer = buffer.slice(1);
      first = false;
    }
    yield* feed(false);
  }
  buffer += decoder.decode();
  yield* feed(true);
}
