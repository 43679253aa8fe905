// Test fixture for workers.int.test.ts: answers with its import.meta.url, a package's export and a stack trace it made.
import { parentPort } from 'node:worker_threads';
import { z } from 'zod';

function traced(): string {
  return new Error('traced').stack ?? '';
}

parentPort?.postMessage({ url: import.meta.url, schema: z.string().parse('zod works'), stack: traced() });
