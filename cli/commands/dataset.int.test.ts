// spanda dataset export against a real QUERIES stream: positive answers only, deduplicated, with provenance; pushed to a fake Hub.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { answeredEvent, publishAnswered, publishFeedback, publishReceived, receivedEvent } from '../../inference/record.ts';
import type { QueryAnswered } from '../../streams/events/index.ts';
import { newEventId } from '../../streams/ids.ts';
import { fakeHub, type FakeHub } from '../../test/fakes/hf-hub.ts';
import { startTestNats, type TestNats } from '../../test/helpers/nats.ts';
import { main } from '../main.ts';

let nats: TestNats;
let hub: FakeHub;
let out: string;

async function answer(tenant: string, query: string, text: string, rating?: number): Promise<string> {
  const queryId = newEventId();
  const data: QueryAnswered['data'] = {
    queryId,
    tenant,
    query,
    answer: text,
    results: [{ chunkId: 'doc-1:0', docId: 'doc-1', source: 'api', seq: 7, score: 1 }],
    tookMs: 3,
    generator: 'openai',
    generatorModel: 'llama3',
    template: { name: 'grounded', version: 1 },
    context: [{ n: 1, chunkId: 'doc-1:0', title: 'Octopus', text: 'An octopus has three hearts.' }],
    citations: [1],
  };
  await publishReceived(nats.handle, receivedEvent({ queryId, tenant, query, mode: 'hybrid', k: 1 }));
  await publishAnswered(nats.handle, answeredEvent(data));
  if (rating !== undefined) await publishFeedback(nats.handle, { queryId, tenant, rating });
  return queryId;
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let stdout = '';
  let stderr = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((stdout += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((stderr += String(c)), true));
  try {
    return { code: await main(args), out: stdout, err: stderr };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

beforeAll(async () => {
  nats = await startTestNats();
  hub = await fakeHub('hf_test');
  out = await mkdtemp(path.join(os.tmpdir(), 'spanda-dataset-'));
});
afterAll(async () => {
  await hub?.close();
  await nats?.stop();
  await rm(out, { recursive: true, force: true });
});

describe('spanda dataset export', () => {
  it('keeps positively rated answers once each, in the HF chat format, with provenance down to DOCUMENTS seqs', async () => {
    const good = await answer('acme', 'How many hearts does an octopus have?', 'Three [1].', 1);
    await answer('acme', 'how many hearts does an octopus have? ', 'Three [1].', 1); // the same pair again
    await answer('acme', 'Is it blue?', 'No idea.', -1);
    await answer('acme', 'Unrated?', 'Maybe.');
    const flipped = await answer('acme', 'Changed my mind?', 'Yes [1].', -1);
    await publishFeedback(nats.handle, { queryId: flipped, tenant: 'acme', rating: 1 }); // the latest rating counts

    const result = await run(['dataset', 'export', '--nats-url', nats.server.url, '--out', out, '--eval-fraction', '0', '--json']);
    expect(result.code, result.err).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({ train: 2, eval: 0, answered: 5, withFeedback: 4, selected: 2, duplicates: 1 });
    const rows = (await readFile(path.join(out, 'train.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { messages: Array<{ role: string; content: string }>; provenance: Record<string, unknown> });
    expect(rows[0]?.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
    expect(rows[0]?.messages[1]?.content).toContain('[1] Octopus\nAn octopus has three hearts.');
    expect(rows[0]?.messages[2]?.content).toBe('Three [1].');
    expect(rows[0]?.provenance).toMatchObject({ queryId: good, tenant: 'acme', generatorModel: 'llama3', template: { name: 'grounded', version: 1 }, sources: [{ n: 1, docId: 'doc-1', seq: 7 }] });
    expect(rows.map((r) => r.provenance.queryId)).toContain(flipped);
  });

  it('writes prompt/completion rows, and pushes train, eval and a card to the Hub when HF_TOKEN is set', async () => {
    process.env.HF_TOKEN = 'hf_test';
    process.env.SPANDA_HF_HUB_URL = hub.url;
    try {
      const result = await run(['dataset', 'export', '--nats-url', nats.server.url, '--out', out, '--format', 'completion', '--push-to-hub', 'me/rag-answers', '--json']);
      expect(result.code, result.err).toBe(0);
      const files = hub.repos.get('me/rag-answers');
      expect([...(files?.keys() ?? [])].sort()).toEqual(['README.md', 'eval.jsonl', 'train.jsonl']);
      const all = `${files?.get('train.jsonl') ?? ''}${files?.get('eval.jsonl') ?? ''}`.trim().split('\n').map((l) => JSON.parse(l) as { prompt: string; completion: string });
      expect(all).toHaveLength(2);
      expect(all[0]?.prompt).toContain('Question:');
      expect(JSON.parse(result.out)).toMatchObject({ pushedTo: 'me/rag-answers', commitUrl: expect.stringContaining('/commit/') });
      // A second push goes to the repo that exists now (409 on create is fine).
      expect((await run(['dataset', 'export', '--nats-url', nats.server.url, '--out', out, '--push-to-hub', 'me/rag-answers', '--json'])).code).toBe(0);
      expect(hub.commits).toHaveLength(2);
    } finally {
      delete process.env.HF_TOKEN;
      delete process.env.SPANDA_HF_HUB_URL;
    }
  });

  it('names HF_TOKEN when pushing without it, and a wrong token as a credentials problem', async () => {
    const missing = await run(['dataset', 'export', '--nats-url', nats.server.url, '--out', out, '--push-to-hub', 'me/x']);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/HF_TOKEN/);
    process.env.HF_TOKEN = 'wrong';
    process.env.SPANDA_HF_HUB_URL = hub.url;
    try {
      const refused = await run(['dataset', 'export', '--nats-url', nats.server.url, '--out', out, '--push-to-hub', 'me/y']);
      expect(refused.err).toMatch(/refused.*HF_TOKEN/);
    } finally {
      delete process.env.HF_TOKEN;
      delete process.env.SPANDA_HF_HUB_URL;
    }
  });

  it("exports one tenant's rated answers with --tenant, counting only that tenant's answers", async () => {
    await answer('globex', 'Globex question?', 'Globex answer.', 1);
    await answer('globex', 'Globex unrated?', 'Perhaps.');
    const acme = await run(['dataset', 'export', '--nats-url', nats.server.url, '--out', out, '--eval-fraction', '0', '--tenant', 'acme', '--json']);
    expect(JSON.parse(acme.out)).toMatchObject({ answered: 5, withFeedback: 4 });
    const globex = await run(['dataset', 'export', '--nats-url', nats.server.url, '--out', out, '--eval-fraction', '0', '--tenant', 'globex', '--json']);
    expect(JSON.parse(globex.out)).toMatchObject({ train: 1, answered: 2, withFeedback: 1, selected: 1 });
    const rows = (await readFile(path.join(out, 'train.jsonl'), 'utf8')).trim().split('\n');
    expect(rows.map((l) => (JSON.parse(l) as { provenance: { tenant: string } }).provenance.tenant)).toEqual(['globex']);
  });
});
