// Test helper: a private nats-server on a free port with a temporary store, plus a connected, provisioned handle.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connectNats, type NatsHandle } from '../../streams/nats.ts';
import { provision } from '../../streams/provision.ts';
import { freePort, startNatsServer, type NatsServerProcess } from '../../streams/server.ts';

export interface TestNats {
  readonly server: NatsServerProcess;
  readonly handle: NatsHandle;
  readonly dir: string;
  stop(): Promise<void>;
}

export async function tempDir(prefix = 'spanda-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Starts a private JetStream server; `provisioned` also creates Spanda's streams and KV bucket. */
export async function startTestNats(options: { provisioned?: boolean; maxPayloadBytes?: number } = {}): Promise<TestNats> {
  const dir = await tempDir();
  const server = await startNatsServer({
    dataDir: dir,
    port: await freePort(),
    ...(options.maxPayloadBytes !== undefined ? { maxPayloadBytes: options.maxPayloadBytes } : {}),
  });
  const handle = await connectNats({ url: server.url, name: 'spanda-test' });
  if (options.provisioned ?? true) await provision(handle);
  return {
    server,
    handle,
    dir,
    stop: async () => {
      await handle.drain();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
