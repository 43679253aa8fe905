// Answer latency per generator, end to end over HTTP (app.request) on a whole node: extractive, OpenAI-compatible and HF/TGI against local fakes.
// Run: npx tsx bench/lib/answer-latency.ts   (prints figures; the fakes answer at a fixed token pace, so the LLM rows show the
// shape of the path — retrieval, prompt, streaming, recording — not a model's speed; never passes or fails on time)
import { readFileSync } from 'node:fs';
import { createApp } from '../../api/app.ts';
import { silentLogger } from '../../lib/log.ts';
import { hfGenerator } from '../../inference/generators/hf.ts';
import { openAiGenerator } from '../../inference/generators/openai.ts';
import { extractiveGenerator } from '../../inference/generators/extractive.ts';
import type { Generator } from '../../inference/generators/generator.ts';
import { parseSse } from '../../inference/sse.ts';
import { fakeChatServer } from '../../test/fakes/llm.ts';
import { startTestSystem } from '../../test/helpers/system.ts';
import { fromRoot, summarize, table } from './common.ts';

const QUERIES = 60;
const TOKEN_MS = Number(process.env.BENCH_TOKEN_MS ?? 10);
const ANSWER = 'The octopus has three hearts [1], and its blood is blue because of hemocyanin [2]. Squid use jet propulsion [3].';

const node = await startTestSystem({ SPANDA_EMBEDDER: 'hash' });
const fake = await fakeChatServer({ answer: () => ANSWER, tokenDelayMs: TOKEN_MS });
try {
  const corpus = readFileSync(fromRoot('test/data/beir-mini/corpus.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { _id: string; title: string; text: string });
  const questions = readFileSync(fromRoot('test/data/beir-mini/queries.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text);
  const base = { nats: node.system.nats, serving: node.system.serving, maxBodyBytes: 1 << 20, logger: silentLogger, reranker: null, search: {} } as const;
  const publish = await createApp({ ...base, generator: extractiveGenerator() }).request('/v1/documents', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ documents: corpus.map((d) => ({ id: d._id, title: d.title, text: d.text })) }),
  });
  const lastSeq = Math.max(...((await publish.json()) as { accepted: Array<{ seq: number }> }).accepted.map((a) => a.seq));
  const retry = { attempts: 2, baseDelayMs: 1, maxDelayMs: 10, timeoutMs: 10_000 };
  const generators: Array<[string, Generator]> = [
    ['extractive', extractiveGenerator()],
    [`openai (fake, ${TOKEN_MS} ms/token)`, openAiGenerator({ baseUrl: `${fake.url}/v1`, model: 'fake', retry })],
    [`hf TGI (fake, ${TOKEN_MS} ms/token)`, hfGenerator({ endpointUrl: fake.url, model: 'tgi', retry })],
  ];
  const rows: string[][] = [];
  for (const [name, generator] of generators) {
    const app = createApp({ ...base, generator });
    const ask = (q: string, stream: boolean, i: number) =>
      app.request('/v1/query', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: q, k: 5, stream, ...(i === 0 ? { after_seq: lastSeq } : {}) }),
      });
    await (await ask('warm up', false, 0)).json();
    const total: number[] = [];
    const firstToken: number[] = [];
    const streamed: number[] = [];
    for (let i = 0; i < QUERIES; i++) {
      const q = questions[i % questions.length] as string;
      let t = performance.now();
      await (await ask(q, false, i)).json();
      total.push(performance.now() - t);
      t = performance.now();
      let first: number | undefined;
      for await (const e of parseSse((await ask(q, true, i)).body as ReadableStream<Uint8Array>)) if (e.event === 'token' && first === undefined) first = performance.now() - t;
      streamed.push(performance.now() - t);
      firstToken.push(first ?? Number.NaN);
    }
    const s = (v: number[]) => summarize(v, 1);
    rows.push([name, String(s(total).p50), String(s(total).p99), String(s(firstToken).p50), String(s(streamed).p50)]);
  }
  console.log(`answer latency over HTTP on a whole node (hash embedder, beir-mini, k=5, ${QUERIES} queries each, one at a time)\n`);
  console.log(table(['generator', 'JSON p50 ms', 'JSON p99 ms', 'SSE first token p50 ms', 'SSE complete p50 ms'], rows));
} finally {
  await fake.close();
  await node.destroy();
}
