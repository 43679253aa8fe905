// Test helper: a private nats-server on a free port with a temporary store, plus a connected, provisioned handle.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { listConsumers } from '../../streams/consumer-list.ts';
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

/**
 * Starts a private JetStream server on a free port with a temporary store; `provisioned` also creates Spanda's streams
 * and KV bucket. Nothing is left behind when start-up fails, and `stop` may be called more than once.
 */
export async function startTestNats(
  options: { provisioned?: boolean; maxPayloadBytes?: number; prefix?: string; name?: string } = {},
): Promise<TestNats> {
  const dir = await tempDir(options.prefix);
  let server: NatsServerProcess | undefined;
  let handle: NatsHandle | undefined;
  try {
    server = await startNatsServer({
      dataDir: dir,
      port: await freePort(),
      ...(options.maxPayloadBytes !== undefined ? { maxPayloadBytes: options.maxPayloadBytes } : {}),
    });
    handle = await connectNats({ url: server.url, name: options.name ?? 'spanda-test', connectTimeoutMs: 10_000 });
    if (options.provisioned ?? true) await provision(handle);
  } catch (err) {
    await handle?.drain().catch(() => undefined);
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const started = { server, handle };
  let stopping: Promise<void> | undefined;
  return {
    ...started,
    dir,
    stop: () =>
      (stopping ??= (async () => {
        await started.handle.drain().catch(() => undefined);
        await started.server.stop();
        await rm(dir, { recursive: true, force: true });
      })()),
  };
}

/**
 * The names of the consumers on `stream` once deletes sent without waiting (streams/ordered.ts) have reached the
 * server: polled for up to 2 s until none are left, so a leftover consumer shows as a name.
 */
export async function consumersAfterDeletes(nats: TestNats, stream: string): Promise<string[]> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const names: string[] = [];
    for (const c of await listConsumers(nats.handle, stream)) names.push(c.name);
    if (names.length === 0 || Date.now() > deadline) return names;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
