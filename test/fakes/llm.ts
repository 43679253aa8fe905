// Fake model servers on 127.0.0.1 with documented HTTP shapes: OpenAI chat completions (TGI's Messages API is the same), TEI /rerank, HF text classification.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
}

/** A scripted failure for the next request: status, optional Retry-After and body. */
export interface Failure {
  readonly status: number;
  readonly retryAfter?: string;
  readonly body?: string;
}

export interface FakeServer {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Failures served, in order, before normal answers resume. */
  readonly failures: Failure[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

function start(handler: (req: RecordedRequest, res: ServerResponse) => void | Promise<void>): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const failures: Failure[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const recorded = { method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0] as string, headers: req.headers, body: await readBody(req) };
      requests.push(recorded);
      const failure = failures.shift();
      if (failure) {
        res.writeHead(failure.status, { 'content-type': 'application/json', ...(failure.retryAfter !== undefined ? { 'retry-after': failure.retryAfter } : {}) });
        res.end(failure.body ?? JSON.stringify({ error: { message: `scripted ${failure.status}` } }));
        return;
      }
      await handler(recorded, res);
    })().catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(err) } }));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, requests, failures, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

interface ChatBody {
  model?: string;
  messages?: Array<{ role: string; content: string }>;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

export interface FakeChatOptions {
  /** The answer text for a request (default: cites the first passage of the prompt). */
  readonly answer?: (body: ChatBody) => string;
  /** Required bearer token (401 without it). */
  readonly apiKey?: string;
  /** Path prefix of the API, "/v1" as OpenAI, vLLM, Ollama and TGI serve it. */
  readonly prefix?: string;
  /** Delay before each streamed token, to give streams a shape. */
  readonly tokenDelayMs?: number;
}

/**
 * POST {prefix}/chat/completions as documented by OpenAI: a `chat.completion` object, or with stream=true
 * `chat.completion.chunk` objects as server-sent events (role first, content deltas, finish_reason, optional usage),
 * then `data: [DONE]`.
 */
export function fakeChatServer(options: FakeChatOptions = {}): Promise<FakeServer> {
  const prefix = options.prefix ?? '/v1';
  const answerOf = options.answer ?? (() => 'The passages say so [1].');
  return start(async (req, res) => {
    if (req.method !== 'POST' || req.path !== `${prefix}/chat/completions`) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.path}` } }));
      return;
    }
    if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }));
      return;
    }
    const body = req.body as ChatBody;
    const text = answerOf(body);
    const usage = { prompt_tokens: 42, completion_tokens: text.split(/\s+/).length, total_tokens: 42 + text.split(/\s+/).length };
    const base = { id: 'chatcmpl-fake', created: 1_700_000_000, model: body.model ?? 'fake' };
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop', logprobs: null }], usage }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (chunk: unknown) => res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    send({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
    for (const token of text.match(/\S+\s*/g) ?? []) {
      if (options.tokenDelayMs) await new Promise((r) => setTimeout(r, options.tokenDelayMs));
      send({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: token }, finish_reason: null }] });
    }
    send({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    if (body.stream_options?.include_usage) send({ ...base, object: 'chat.completion.chunk', choices: [], usage });
    res.end('data: [DONE]\n\n');
  });
}

/** POST /rerank as TEI documents it: {query, texts} → [{index, score}] sorted by score; scores by shared words here. */
export function fakeTeiServer(): Promise<FakeServer> {
  return start((req, res) => {
    if (req.method !== 'POST' || req.path !== '/rerank') {
      res.writeHead(404);
      res.end();
      return;
    }
    const { query, texts } = req.body as { query: string; texts: string[] };
    const words = new Set(query.toLowerCase().match(/\w+/g) ?? []);
    const scored = texts.map((t, index) => ({ index, score: (t.toLowerCase().match(/\w+/g) ?? []).filter((w) => words.has(w)).length / 10 }));
    scored.sort((a, b) => b.score - a.score);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(scored));
  });
}

/** Words of `query` found in `text`, over 10: the fakes' stand-in for a cross-encoder's relevance. */
const sharedWords = (query: string, text: string): number => {
  const words = new Set(query.toLowerCase().match(/\w+/g) ?? []);
  return (text.toLowerCase().match(/\w+/g) ?? []).filter((w) => words.has(w)).length / 10;
};

/**
 * HF Inference text classification of a cross-encoder pair, as HF documents it for rerankers: POST {inputs: {text,
 * text_pair}} to the endpoint (or the router's /hf-inference/models/<model>) → [[{label, score}]]; GET /api/models/<id> is
 * the Hub's provider mapping the client reads first. `labels` 2 answers a
 * two-label model (LABEL_0 irrelevant, LABEL_1 relevant).
 */
export function fakeHfClassifierServer(options: { labels?: 1 | 2; token?: string } = {}): Promise<FakeServer> {
  return start((req, res) => {
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'Invalid credentials in Authorization header' }));
      return;
    }
    // The Hub's model info, which the client reads first to route a model id: hf-inference serves it as text classification.
    if (req.method === 'GET' && req.path.startsWith('/api/models/')) {
      const model = decodeURIComponent(req.path.slice('/api/models/'.length));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: model, inferenceProviderMapping: { 'hf-inference': { providerId: model, status: 'live', task: 'text-classification' } } }));
      return;
    }
    const inputs = (req.body as { inputs?: { text?: unknown; text_pair?: unknown } } | undefined)?.inputs;
    if (req.method !== 'POST' || typeof inputs?.text !== 'string' || typeof inputs.text_pair !== 'string') {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'inputs must be {text, text_pair}' }));
      return;
    }
    const p = Math.min(1, sharedWords(inputs.text, inputs.text_pair));
    const labels = options.labels === 2 ? [{ label: 'LABEL_1', score: p }, { label: 'LABEL_0', score: 1 - p }].sort((a, b) => b.score - a.score) : [{ label: 'LABEL_0', score: p }];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify([labels]));
  });
}
