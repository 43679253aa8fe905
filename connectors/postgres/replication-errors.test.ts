// The replication library's pg client, stopped, still has an 'error' listener: a late 57P01 from a restarting Postgres is dropped, not thrown.
import { EventEmitter } from 'node:events';
import { LogicalReplicationService } from 'pg-logical-replication';
import { describe, expect, it } from 'vitest';
import { keepClientErrorsHandled } from './source.ts';

/** A pg client as far as the library's stop() touches it: end(), and events. */
class FakeClient extends EventEmitter {
  async end(): Promise<void> {}
}

describe('keepClientErrorsHandled', () => {
  it("leaves the library's stopped client a listener, so the server's last error does not crash the process", async () => {
    const terminated = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    const bare = new LogicalReplicationService({ connectionString: 'postgres://127.0.0.1:1/x' });
    const bareClient = new FakeClient();
    (bare as unknown as { _client: FakeClient })._client = bareClient;
    await bare.stop();
    // What the library leaves: no listener, so the error is thrown (the crash seen in CI).
    expect(() => bareClient.emit('error', terminated)).toThrow(/administrator command/);

    const guarded = new LogicalReplicationService({ connectionString: 'postgres://127.0.0.1:1/x' });
    keepClientErrorsHandled(guarded);
    const client = new FakeClient();
    (guarded as unknown as { _client: FakeClient })._client = client;
    await guarded.destroy();
    expect(() => client.emit('error', terminated)).not.toThrow();
  });
});
