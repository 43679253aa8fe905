// The inference projection's ops: what a chunked document becomes in the store, including a url no UI should be handed.
import { describe, expect, it } from 'vitest';
import { eventMetadata } from '../streams/codec.ts';
import type { SpandaEvent, StoredEvent } from '../streams/events/index.ts';
import { inferenceProjection } from './inference.ts';

function chunked(url: string | undefined): StoredEvent<SpandaEvent> {
  return {
    type: 'document.chunked',
    data: {
      tenant: 'acme',
      source: 'api',
      id: 'd1',
      docSeq: 7,
      document: { title: 'A title', ...(url !== undefined ? { url } : {}), metadata: {}, contentHash: `sha256:${'0'.repeat(64)}` },
      chunker: { name: 'markdown', version: 1, size: 800, overlap: 120 },
      part: { index: 0, count: 1 },
      totalChunks: 1,
      chunks: [{ chunkId: '7:0', ordinal: 0, text: 'some text', start: 0, end: 9, tokens: 2 }],
    },
    metadata: eventMetadata('document.chunked', { source: '/test' }),
    position: { stream: 'CHUNKS', seq: 1, subject: 'chunks.acme.api.d1' },
  } as StoredEvent<SpandaEvent>;
}

describe('inference projection', () => {
  it('keeps a page address and drops a script URL written straight to the log (results hand url to UIs as a link)', () => {
    const projection = inferenceProjection({ id: 'hash-64', dims: 64 });
    expect(projection.project(chunked('https://example.org/a'))).toEqual([expect.objectContaining({ kind: 'chunks', title: 'A title', url: 'https://example.org/a' })]);
    for (const url of ['javascript:alert(1)', ' JavaScript:alert(1)', 'java\tscript:x', 'vbscript:x', 'data:text/html,<script>x</script>']) {
      const [op] = projection.project(chunked(url));
      expect(op, url).toMatchObject({ kind: 'chunks', title: 'A title' });
      expect(op && 'url' in op, url).toBe(false);
    }
  });
});
