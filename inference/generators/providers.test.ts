// Each generator and the reranker against a local fake of its documented HTTP API: answers, streams, retries, clear config errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, UnavailableError } from '../../lib/errors.ts';
import { fakeChatServer, fakeHfClassifierServer, fakeTeiServer, type FakeServer } from '../../test/fakes/llm.ts';
import { renderPrompt, promptTemplate } from '../prompts/prompt.ts';
import { createReranker, HF_PASSAGE_CHARS, hfReranker, teiReranker } from '../rerank.ts';
import { collect, type GenerationInput } from './generator.ts';
import { hfGenerator } from './hf.ts';
import { createGenerator } from './index.ts';
import { openAiGenerator } from './openai.ts';
import { extractiveGenerator } from './extractive.ts';

const fast = { attempts: 3, baseDelayMs: 1, maxDelayMs: 500, timeoutMs: 5_000 };
const prompt = renderPrompt(promptTemplate('grounded'), 'What do cats eat?', [
  { chunkId: 'c1', title: 'Cats', text: 'Cats eat fish and mice. They sleep a lot.' },
  { chunkId: 'c2', title: 'Dogs', text: 'Dogs eat almost anything.' },
]);
const input: GenerationInput = { question: 'What do cats eat?', messages: prompt.messages, passages: prompt.passages };

let chat: FakeServer;
let tei: FakeServer;
beforeAll(async () => {
  chat = await fakeChatServer({ apiKey: 'sk-test', answer: (b) => `Cats eat fish [1]. (${b.messages?.length ?? 0} messages)` });
  tei = await fakeTeiServer();
});
afterAll(async () => {
  await chat.close();
  await tei.close();
});

describe('OpenAI-compatible generator', () => {
  const gen = () => openAiGenerator({ baseUrl: `${chat.url}/v1`, model: 'llama3', apiKey: 'sk-test', retry: fast });

  it('answers with the endpoint text and usage, sending the rendered prompt and model', async () => {
    const result = await gen().generate(input);
    expect(result.text).toBe('Cats eat fish [1]. (2 messages)');
    expect(result.usage.promptTokens).toBe(42);
    const sent = chat.requests.at(-1)?.body as { model: string; messages: Array<{ role: string; content: string }>; stream: boolean };
    expect(sent.model).toBe('llama3');
    expect(sent.stream).toBe(false);
    expect(sent.messages[1]?.content).toContain('[1] Cats\nCats eat fish');
  });

  it('streams deltas that add up to the answer, then the result', async () => {
    const deltas: string[] = [];
    let done;
    for await (const d of gen().stream(input)) {
      if ('done' in d) done = d.done;
      else deltas.push(d.text);
    }
    expect(deltas.length).toBeGreaterThan(2);
    expect(deltas.join('')).toBe('Cats eat fish [1]. (2 messages)');
    expect(done).toMatchObject({ text: deltas.join(''), finishReason: 'stop', usage: { promptTokens: 42 } });
  });

  it('retries 429 and 503, waiting at least the Retry-After the server asked for', async () => {
    chat.failures.push({ status: 429, retryAfter: '1' }, { status: 503 });
    const started = Date.now();
    const result = await gen().generate(input);
    expect(result.text).toContain('[1]');
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
  });

  it('gives up after its attempts with a 503-mapped error that names the endpoint', async () => {
    chat.failures.push({ status: 502 }, { status: 502 }, { status: 502 });
    await expect(gen().generate(input)).rejects.toThrow(UnavailableError);
  });

  it('names the setting when the key is wrong or the URL points at nothing', async () => {
    const wrongKey = openAiGenerator({ baseUrl: `${chat.url}/v1`, model: 'm', apiKey: 'nope', retry: fast });
    await expect(wrongKey.generate(input)).rejects.toThrow(/SPANDA_OPENAI_API_KEY/);
    const wrongPath = openAiGenerator({ baseUrl: `${chat.url}/nothing`, model: 'm', apiKey: 'sk-test', retry: fast });
    await expect(wrongPath.generate(input)).rejects.toThrow(/404.*SPANDA_OPENAI_BASE_URL/);
    const nobody = openAiGenerator({ baseUrl: 'http://127.0.0.1:1/v1', model: 'm', retry: { ...fast, attempts: 1 } });
    await expect(nobody.generate(input)).rejects.toThrow(/cannot reach .*SPANDA_OPENAI_BASE_URL/);
  });
});

describe('Hugging Face generator (TGI endpoint URL through @huggingface/inference)', () => {
  let tgi: FakeServer;
  beforeAll(async () => {
    tgi = await fakeChatServer({ answer: () => 'From TGI [2].' });
  });
  afterAll(() => tgi.close());
  const gen = () => hfGenerator({ endpointUrl: tgi.url, model: 'tgi', retry: fast });

  it('answers and streams through <endpoint>/v1/chat/completions', async () => {
    expect((await gen().generate(input)).text).toBe('From TGI [2].');
    expect(tgi.requests.at(-1)?.path).toBe('/v1/chat/completions');
    expect((await collect(gen().stream(input))).text).toBe('From TGI [2].');
  });

  it('retries a 429 honouring Retry-After, and a 503', async () => {
    tgi.failures.push({ status: 429, retryAfter: '1' }, { status: 503 });
    const started = Date.now();
    expect((await gen().generate(input)).text).toBe('From TGI [2].');
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    tgi.failures.push({ status: 503 });
    expect((await collect(gen().stream(input))).text).toBe('From TGI [2].');
  });

  it('refuses a configuration that cannot work, naming the setting', () => {
    expect(() => hfGenerator({})).toThrow(/SPANDA_HF_MODEL.*SPANDA_HF_ENDPOINT_URL/);
    expect(() => hfGenerator({ model: 'meta-llama/Llama-3.1-8B-Instruct' })).toThrow(/HF_TOKEN/);
  });
});

describe('createGenerator', () => {
  const base = { generator: 'extractive', openaiBaseUrl: undefined, openaiApiKey: undefined, openaiModel: undefined, hfToken: undefined, hfModel: undefined, hfEndpointUrl: undefined, hfProvider: undefined, generatorTimeoutMs: 1000 } as const;
  it('defaults to the extractive generator, which says what it is', async () => {
    const g = createGenerator(base);
    expect(g.kind).toBe('extractive');
    const result = await extractiveGenerator().generate(input);
    expect(result.text).toMatch(/Cats eat fish and mice\. \[1\]/);
    expect(result.finishReason).toBe('stop');
    // max_tokens holds for quoted sentences too: cut at a word, finish_reason "length".
    const cut = await extractiveGenerator().generate({ ...input, maxTokens: 3 });
    expect(cut.finishReason).toBe('length');
    expect(cut.usage.completionTokens).toBeLessThanOrEqual(3);
    expect(result.text.startsWith(cut.text)).toBe(true);
    expect(cut.text).not.toMatch(/\s$/);
  });
  it('names the missing setting for openai and hf', () => {
    expect(() => createGenerator({ ...base, generator: 'openai' })).toThrow(ConfigError);
    expect(() => createGenerator({ ...base, generator: 'openai' })).toThrow(/SPANDA_OPENAI_MODEL/);
    expect(() => createGenerator({ ...base, generator: 'openai', openaiModel: 'm' })).toThrow(/SPANDA_OPENAI_BASE_URL/);
    expect(() => createGenerator({ ...base, generator: 'openai', openaiModel: 'm', openaiBaseUrl: 'ftp://x' })).toThrow(/SPANDA_OPENAI_BASE_URL="ftp/);
    expect(() => createGenerator({ ...base, generator: 'hf' })).toThrow(/SPANDA_HF_MODEL/);
    expect(createGenerator({ ...base, generator: 'openai', openaiModel: 'm', openaiBaseUrl: 'http://127.0.0.1:8000/v1' }).model).toBe('m');
  });
});

describe('TEI reranker', () => {
  it('maps scores back to input order by index', async () => {
    const r = teiReranker({ url: tei.url, retry: fast });
    const scores = await r.rerank('cats eat fish', ['dogs bark', 'cats eat fish daily', 'fish swim']);
    expect(scores[1]).toBeGreaterThan(scores[2] as number);
    expect(scores[2]).toBeGreaterThan(scores[0] as number);
    expect(tei.requests.at(-1)?.body).toMatchObject({ query: 'cats eat fish', texts: ['dogs bark', 'cats eat fish daily', 'fish swim'] });
  });
  it('retries a 503 from the reranker', async () => {
    tei.failures.push({ status: 503 });
    expect(await teiReranker({ url: tei.url, retry: fast }).rerank('a', ['a'])).toHaveLength(1);
  });
});

describe('HF cross-encoder reranker (@huggingface/inference text classification)', () => {
  let endpoint: FakeServer;
  let twoLabels: FakeServer;
  beforeAll(async () => {
    endpoint = await fakeHfClassifierServer();
    twoLabels = await fakeHfClassifierServer({ labels: 2, token: 'hf_test' });
  });
  afterAll(async () => {
    await endpoint.close();
    await twoLabels.close();
  });

  it('scores each (query, passage) pair at an Inference Endpoint, in input order', async () => {
    const r = hfReranker({ endpointUrl: endpoint.url, retry: fast });
    const scores = await r.rerank('cats eat fish', ['dogs bark', 'cats eat fish daily', 'fish swim']);
    expect(scores[1]).toBeGreaterThan(scores[2] as number);
    expect(scores[2]).toBeGreaterThan(scores[0] as number);
    const bodies = endpoint.requests.slice(-3).map((q) => q.body);
    expect(bodies).toContainEqual({ inputs: { text: 'cats eat fish', text_pair: 'dogs bark' } });
    expect(await r.rerank('q', [])).toEqual([]);
    // A passage longer than a cross-encoder takes is scored by its head, not refused by the model.
    await r.rerank('cats', ['cats '.repeat(5000)]);
    expect((endpoint.requests.at(-1)?.body as { inputs: { text_pair: string } }).inputs.text_pair).toHaveLength(HF_PASSAGE_CHARS);
  });

  it('calls the HF router for a model id with the token, reading the relevance label of a two-label model', async () => {
    const seen: string[] = [];
    // The router's address goes to the fake; the path and the bearer token are what the client sends to HF.
    const routed: typeof fetch = (url, init) => {
      const u = new URL(String(url));
      seen.push(u.href);
      return fetch(`${twoLabels.url}${u.pathname}`, init);
    };
    const r = hfReranker({ model: 'cross-encoder/ms-marco-MiniLM-L-6-v2', token: 'hf_test', retry: fast, fetch: routed });
    const scores = await r.rerank('cats eat fish', ['dogs bark', 'cats eat fish daily']);
    expect(scores[1]).toBeGreaterThan(scores[0] as number);
    expect(seen.filter((u) => u.startsWith('https://huggingface.co/api/models/cross-encoder/ms-marco-MiniLM-L-6-v2?'))).not.toHaveLength(0);
    expect(seen).toContain('https://router.huggingface.co/hf-inference/models/cross-encoder/ms-marco-MiniLM-L-6-v2');
    const wrongLabel = hfReranker({ model: 'm/x', token: 'hf_test', label: 'relevant', retry: fast, fetch: routed });
    await expect(wrongLabel.rerank('a', ['a'])).rejects.toThrow(/labels LABEL_\d, LABEL_\d, none named relevant.*SPANDA_RERANK_LABEL/);
    const badToken = hfReranker({ model: 'm/x', token: 'hf_wrong', retry: fast, fetch: routed });
    await expect(badToken.rerank('a', ['a'])).rejects.toThrow(/401.*SPANDA_RERANK_MODEL/);
  });

  it('retries a 429 honouring Retry-After, and a 503', async () => {
    endpoint.failures.push({ status: 429, retryAfter: '0' }, { status: 503 });
    const before = endpoint.requests.length;
    expect(await hfReranker({ endpointUrl: endpoint.url, retry: fast, concurrency: 1 }).rerank('a b', ['a'])).toEqual([0.1]);
    expect(endpoint.requests.length - before).toBe(3);
  });

  it('refuses a configuration that cannot work, naming the setting', () => {
    const base = { rerankUrl: undefined, rerankModel: undefined, hfToken: undefined, generatorTimeoutMs: 1000 };
    expect(() => createReranker({ ...base, rerank: 'hf' })).toThrow(/SPANDA_RERANK_MODEL.*SPANDA_RERANK_URL/);
    expect(() => createReranker({ ...base, rerank: 'hf', rerankModel: 'cross-encoder/x' })).toThrow(/HF_TOKEN/);
    expect(createReranker({ ...base, rerank: 'hf', rerankModel: 'cross-encoder/x', hfToken: 'hf_x' })?.name).toBe('hf:cross-encoder/x');
  });
});
