// A query client in a process of its own (plain Node, no loader): POST /v1/query back to back, latencies as JSON on stdout.
// Input on stdin: { url, mode, k, queries, warmup, clients, perClient }. With clients = 1 it sends warmup + queries.length
// queries in order; otherwise each client sends perClient queries on its own connection, all at once.
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const { url, mode, k, queries, warmup, clients, perClient } = input;

async function ask(query) {
  const started = performance.now();
  const response = await fetch(`${url}/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, mode, k }) });
  await response.json();
  if (response.status !== 200) throw new Error(`POST /v1/query answered ${response.status}`);
  return performance.now() - started;
}

const times = [];
let seconds;
if (clients === 1) {
  for (let i = 0; i < warmup; i++) await ask(queries[i % queries.length]);
  for (const q of queries) times.push(await ask(q));
} else {
  for (let i = 0; i < warmup; i++) await ask(queries[i % queries.length]);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < perClient; i++) times.push(await ask(queries[(c * perClient + i) % queries.length]));
    }),
  );
  seconds = (performance.now() - started) / 1000;
}
process.stdout.write(JSON.stringify({ times, ...(seconds !== undefined ? { seconds } : {}) }));
