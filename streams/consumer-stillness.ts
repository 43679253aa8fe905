// How long a durable consumer has held still with nobody pulling: the sign that no process runs its stage.
import type { ConsumerInfo } from '@nats-io/jetstream';

/**
 * A tracker fed the consumer's info at each look; returns how many milliseconds it has stood where it is (delivered,
 * acknowledged, in flight) with no pull waiting. A moving consumer or a waiting pull starts the count again.
 */
export function stillness(now: () => number = Date.now): (info: ConsumerInfo) => number {
  let seen: string | undefined;
  let since = now();
  return (info) => {
    const position = `${info.delivered.stream_seq}:${info.ack_floor.stream_seq}:${info.num_ack_pending}`;
    if (position !== seen || info.num_waiting > 0) {
      seen = position;
      since = now();
    }
    return now() - since;
  };
}
