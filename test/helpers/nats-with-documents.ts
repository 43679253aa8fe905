// A private nats-server for each test of a file, holding five small documents of tenant acme (DOCUMENTS seqs 1-5).
import { afterEach, beforeEach } from 'vitest';
import { publishDocument } from '../../streams/document-log.ts';
import { startTestNats, type TestNats } from './nats.ts';

/** Registers the per-test server; call the returned function inside a test for the running one. */
export function natsWithDocuments(count = 5): () => TestNats {
  let nats: TestNats | undefined;
  beforeEach(async () => {
    nats = await startTestNats();
    for (let i = 0; i < count; i++) await publishDocument(nats.handle, 'acme', { id: `d${i}`, source: 'api', text: `text ${i}`, metadata: {} });
  });
  afterEach(async () => {
    await nats?.stop();
  });
  return () => {
    if (!nats) throw new Error('natsWithDocuments: the server starts in beforeEach; use it inside a test');
    return nats;
  };
}
