// POST /v1/documents clients in a process of their own (plain Node, no loader): batches sent back to back, latencies as JSON on stdout.
// Input on stdin: { url, clients, batches, batch, documents }. Client c sends batches c·batches … (c+1)·batches − 1 of
// `batch` documents each, one after another; all clients at once. Prints { times, seconds }.
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { url, clients, batches, batch, documents } = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const times = [];
const started = performance.now();
await Promise.all(
  Array.from({ length: clients }, async (_, c) => {
    for (let b = 0; b < batches; b++) {
      const from = (c * batches + b) * batch;
      const t = performance.now();
      const response = await fetch(`${url}/v1/documents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ documents: documents.slice(from, from + batch) }),
      });
      const body = await response.text();
      if (response.status !== 202) throw new Error(`POST /v1/documents answered ${response.status}: ${body.slice(0, 300)}`);
      times.push(performance.now() - t);
    }
  }),
);
process.stdout.write(JSON.stringify({ times, seconds: (performance.now() - started) / 1000 }));
