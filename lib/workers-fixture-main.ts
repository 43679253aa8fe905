// Test fixture for workers.int.test.ts: a process that starts the fixture worker and prints what it answers.
import { once } from 'node:events';
import { startWorker } from './workers.ts';

const worker = startWorker(new URL('./workers-fixture-worker.ts', import.meta.url));
const [reply] = (await once(worker, 'message')) as [{ schema: string }];
await worker.terminate();
process.stdout.write(reply.schema);
