// Worker thread entry: loads the TypeScript module named in workerData.module (registering tsx when it is .ts), then runs it.
import { workerData } from 'node:worker_threads';

const moduleUrl = workerData?.module;
if (typeof moduleUrl !== 'string') throw new Error('worker-bootstrap: workerData.module must be the URL of the module to run');
if (moduleUrl.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(moduleUrl);
