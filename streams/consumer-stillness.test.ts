// stillness: how long a consumer has held still with nobody pulling, as the replay's backfill and erase read it.
import type { ConsumerInfo } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { stillness } from './consumer-stillness.ts';

const info = (delivered: number, acked: number, inFlight: number, waiting: number) =>
  ({ delivered: { stream_seq: delivered }, ack_floor: { stream_seq: acked }, num_ack_pending: inFlight, num_waiting: waiting }) as unknown as ConsumerInfo;

describe('stillness', () => {
  it('counts from the last move or waiting pull', () => {
    let t = 0;
    const still = stillness(() => t);
    expect(still(info(5, 5, 0, 0))).toBe(0);
    t = 4000;
    expect(still(info(5, 5, 0, 0))).toBe(4000);
    t = 5000;
    expect(still(info(6, 5, 1, 0))).toBe(0); // moved
    t = 9000;
    expect(still(info(6, 5, 1, 0))).toBe(4000);
    expect(still(info(6, 5, 1, 1))).toBe(0); // a pull is waiting: a process runs it
    t = 20_000;
    expect(still(info(6, 5, 1, 0))).toBe(11_000);
  });
});
