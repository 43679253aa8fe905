// `spanda publish` of a directory holding one document too large for the server: it is reported as invalid and the others are published.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/helpers/cli.ts';
import { startTestNats, tempDir, type TestNats } from '../../test/helpers/nats.ts';
import { STREAMS } from '../../streams/provision.ts';

let nats: TestNats;
let dir: string;

beforeAll(async () => {
  nats = await startTestNats({ maxPayloadBytes: 64 * 1024 });
  dir = await tempDir('spanda-publish-large-');
});
afterAll(async () => {
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('spanda publish with a document over max_payload', () => {
  it('reports that document with the others that cannot be published and publishes the rest', async () => {
    const docs = path.join(dir, 'docs');
    await mkdir(docs);
    await writeFile(path.join(docs, 'a.md'), '# A\n\nThe first note.\n');
    await writeFile(path.join(docs, 'b.md'), `# B\n\n${'A very long note. '.repeat(10_000)}\n`);
    await writeFile(path.join(docs, 'c.md'), '# C\n\nThe last note.\n');
    const result = await runCli(['publish', docs, '--source', 'notes', '--json', '--nats-url', nats.server.url]);
    expect(result.code).toBe(1);
    const summary = JSON.parse(result.stdout) as { published: number; invalid: Array<{ origin: string; error: string }> };
    expect(summary.published).toBe(2);
    expect(summary.invalid).toEqual([{ origin: expect.stringMatching(/b\.md$/), error: expect.stringMatching(/over the server's max_payload of 65536 bytes/) }]);
    const stored = (await nats.handle.jsm.streams.info(STREAMS.DOCUMENTS, { subjects_filter: 'docs.>' })).state.subjects ?? {};
    expect(Object.keys(stored).sort()).toEqual(['docs.default.notes.a%2Emd', 'docs.default.notes.c%2Emd']);
  });
});
