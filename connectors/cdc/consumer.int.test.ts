// The Debezium consumer against a real nats-server: real Debezium JSON (with and without schema, tombstones, a bad value) on the sink's subjects → DOCUMENTS.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/log.ts';
import { decodeEvent } from '../../streams/codec.ts';
import { startTestNats, type TestNats } from '../../test/helpers/nats.ts';
import { openConnectorBucket } from '../connector.ts';
import { debeziumConnector, type RunningDebeziumConsumer } from './consumer.ts';
import { parseMapping } from './mapping.ts';
import { debeziumSubject } from './stream.ts';

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', name));
const mapping = parseMapping({
  tables: { 'inventory.customers': { idColumns: ['id'], titleColumn: 'first_name', textColumns: ['first_name', 'last_name'], metadataColumns: ['email'], tenant: 'acme', source: 'customers' } },
});

let nats: TestNats;
let consumer: RunningDebeziumConsumer;

beforeAll(async () => {
  nats = await startTestNats();
  const kv = await openConnectorBucket(nats.handle);
  consumer = await debeziumConnector({ subjects: 'dbserver1.>', mapping, storage: 'memory' }).start({ nats: nats.handle, kv, logger: silentLogger });
});
afterAll(async () => {
  await consumer?.stop();
  await nats?.stop();
});

async function caughtUp(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await consumer.caughtUp())) {
    if (Date.now() > deadline) throw new Error(`consumer did not catch up: ${JSON.stringify(consumer.status())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function documentEvents() {
  const info = await nats.handle.jsm.streams.info('DOCUMENTS');
  const out = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await nats.handle.jsm.streams.getMessage('DOCUMENTS', { seq });
    if (m) out.push(decodeEvent({ subject: m.subject, data: m.data, headers: m.header }, { stream: 'DOCUMENTS', seq })); // validates
  }
  return out;
}

describe('debezium consumer', () => {
  it('creates the stream for the sink subjects and turns each op into the right document event', async () => {
    const subject = debeziumSubject('dbserver1', 'inventory', 'customers');
    for (const name of ['create-with-schema.json', 'update-no-schema.json', 'update-replica-identity-default.json', 'tombstone-with-schema.json']) {
      await nats.handle.js.publish(subject, fixture(name));
    }
    await nats.handle.js.publish(subject, new Uint8Array()); // the empty tombstone
    // The same content again without a before image: compared with the log, publishes nothing.
    await nats.handle.js.publish(subject, fixture('update-replica-identity-default.json'));
    await nats.handle.js.publish(subject, fixture('delete-no-schema.json'));
    await caughtUp();
    const events = await documentEvents();
    expect(events.map((e) => `${e.type} ${'id' in e.data ? e.data.id : ''}`)).toEqual(['document.upserted 1004', 'document.upserted 1004', 'document.upserted 1004', 'document.deleted 1004']);
    expect(events[0]?.data).toMatchObject({ tenant: 'acme', source: 'customers', title: 'Anne', text: 'Anne\n\nKretchmar', metadata: { email: 'annek@noanswer.org' } });
    expect(events[0]?.metadata.source).toBe('/connectors/cdc');
    expect(consumer.status().details).toMatchObject({ tombstones: 2, unchanged: 1, deadLettered: 0 });
    expect((await nats.handle.jsm.streams.find('dbserver1.inventory.customers'))).toBe('DebeziumStream');
  });

  it('sends a value that is not a change event to the DLQ with the reason and keeps going', async () => {
    const subject = debeziumSubject('dbserver1', 'inventory', 'customers');
    const before = (await nats.handle.jsm.streams.info('DOCUMENTS')).state.messages;
    await nats.handle.js.publish(subject, Buffer.from('{"op":"c","source":{"schema":"inventory","table":"customers"}}'));
    await nats.handle.js.publish(subject, fixture('read-snapshot-no-schema.json'));
    await caughtUp();
    const dlq = await nats.handle.jsm.streams.getMessage('DLQ', { last_by_subj: 'dlq.cdc' });
    expect(dlq?.header?.get('spanda-dlq-reason')).toMatch(/after: op "c" needs an "after" row image/);
    expect((await nats.handle.jsm.streams.info('DOCUMENTS')).state.messages).toBe(before + 1);
    expect(consumer.status().details).toMatchObject({ deadLettered: 1 });
  });
});
