// The Debezium consumer's acks against a real nats-server: a lost ack, a broker restart; every row ends at its last change.
import type { NatsConnection } from '@nats-io/transport-node';
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/log.ts';
import { decodeEvent } from '../../streams/codec.ts';
import { connectNats, type NatsHandle } from '../../streams/nats.ts';
import { provision } from '../../streams/provision.ts';
import { freePort, startNatsServer, type NatsServerProcess } from '../../streams/server.ts';
import { tempDir } from '../../test/helpers/nats.ts';
import { changeEvent, jsonRow } from '../postgres/envelope-builder.ts';
import { openConnectorBucket } from '../connector.ts';
import { debeziumConnector } from './consumer.ts';
import { encodeChange } from './envelope.ts';
import { parseMapping } from './mapping.ts';
import { debeziumSubject } from './stream.ts';

const ROWS = 12;
const ROUNDS = 25;
const mapping = parseMapping({ tables: { 'public.items': { idColumns: ['id'], titleColumn: 'title', textColumns: ['body'], source: 'items' } } });
const subject = debeziumSubject('cdc', 'public', 'items');
const origin = (lsn: number) => ({ serverName: 'cdc', db: 'postgres', schema: 'public', table: 'items', tsMs: Date.now(), lsn: BigInt(lsn) });
const body = (row: number, round: number) => `item ${row} version ${round}`;

/** What each test started, stopped after all of them (in reverse order). */
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** A nats-server of its own (restartable on the same port and store) and a provisioned connection to it. */
async function privateBroker(prefix: string) {
  const dir = await tempDir(prefix);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  let server: NatsServerProcess = await startNatsServer({ dataDir: dir, port });
  cleanups.push(() => server.stop());
  const handle = await connectNats({ url: server.url, name: prefix, connectTimeoutMs: 10_000 });
  cleanups.push(() => handle.drain());
  await provision(handle);
  const restart = async () => {
    await server.stop();
    server = await startNatsServer({ dataDir: dir, port });
  };
  return { handle, restart, kv: await openConnectorBucket(handle) };
}

/** Publishes round `round` of `rows` rows: an update whose before image holds the previous round (an insert for round 0). */
async function publishRound(h: NatsHandle, round: number, rows = ROWS): Promise<void> {
  for (let row = 0; row < rows; row++) {
    const after = jsonRow({ id: row, title: `Item ${row}`, body: body(row, round) });
    const before = round === 0 ? null : jsonRow({ id: row, title: `Item ${row}`, body: body(row, round - 1) });
    const event = changeEvent(round === 0 ? 'c' : 'u', origin(round * ROWS + row + 1), before, after);
    for (;;) {
      try {
        await h.js.publish(subject, encodeChange(event));
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100)); // the broker is restarting: publish again, as a sink would
      }
    }
  }
}

/** The handle with a connection that loses the first `+ACK` written on it, as a connection that drops at that moment would. */
function losingFirstAck(h: NatsHandle): { handle: NatsHandle; lost: () => number } {
  let lost = 0;
  const nc = new Proxy(h.nc, {
    get(target, property) {
      if (property === 'publish') {
        return (subject: string, data?: Uint8Array, options?: Parameters<NatsConnection['publish']>[2]) => {
          if (lost === 0 && data && new TextDecoder().decode(data) === '+ACK') {
            lost += 1;
            return;
          }
          target.publish(subject, data, options);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { handle: { ...h, nc }, lost: () => lost };
}

/** The current text of each row's document on DOCUMENTS. */
async function rowTexts(h: NatsHandle, rows: number): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (let row = 0; row < rows; row++) {
    const m = await h.jsm.streams.getMessage('DOCUMENTS', { last_by_subj: `docs.default.items.${row}` }).catch(() => undefined);
    if (!m) continue;
    const event = decodeEvent({ subject: m.subject, data: m.data, headers: m.header }, { stream: 'DOCUMENTS', seq: m.seq });
    if (event.type === 'document.upserted') out[String(row)] = event.data.text;
  }
  return out;
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('debezium consumer acks', () => {
  it('sends a lost ack again before the row\'s next change: the older change never comes back over the newer', async () => {
    const { handle, kv } = await privateBroker('spanda-cdc-acks-');
    const losing = losingFirstAck(handle);
    // JetStream delivers an unacked change again after 2 s; an unconfirmed ack is sent again after 300 ms.
    const running = await debeziumConnector({ subjects: subject, mapping, storage: 'memory', ackWaitMs: 2000, ackConfirmTimeoutMs: 300 }).start({ nats: losing.handle, kv, logger: silentLogger });
    cleanups.push(() => running.stop());
    // Two changes of one row: its insert (whose ack is lost), then an update.
    await publishRound(handle, 0, 1);
    await publishRound(handle, 1, 1);
    await until('the consumer did not catch up', () => running.caughtUp());
    expect(losing.lost()).toBe(1);
    // Past the ack wait: a change the server never saw acked would have come back by now.
    await new Promise((r) => setTimeout(r, 3000));
    await until('the consumer did not catch up', () => running.caughtUp());
    expect(await rowTexts(handle, 1)).toEqual({ '0': body(0, 1) });
    expect(running.status().details).toMatchObject({ published: 2, deadLettered: 0 });
  }, 60_000);

  it('through a broker restart mid-stream, applies every row up to its last change', async () => {
    const { handle, kv, restart } = await privateBroker('spanda-cdc-restart-');
    const running = await debeziumConnector({ subjects: subject, mapping, storage: 'file' }).start({ nats: handle, kv, logger: silentLogger });
    cleanups.push(() => running.stop());
    for (let round = 0; round < ROUNDS; round++) {
      await publishRound(handle, round);
      // Mid-stream, with changes in flight: the connection drops, acks on the wire are lost with it.
      if (round === 8 || round === 16) await restart();
    }
    await until('the consumer did not catch up', () => running.caughtUp());
    // What a reader sees: each row's current document holds its last change.
    expect(await rowTexts(handle, ROWS)).toEqual(Object.fromEntries(Array.from({ length: ROWS }, (_, row) => [String(row), body(row, ROUNDS - 1)])));
    expect(running.status().details).toMatchObject({ deadLettered: 0 });
  }, 120_000);
});
