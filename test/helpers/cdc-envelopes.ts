// Test helper: the Debezium change events a CDC source stored in its stream, in order (optionally of one subject).
import { decodeChange, type ChangeEvent } from '../../connectors/cdc/envelope.ts';
import type { NatsHandle } from '../../streams/nats.ts';

export async function storedChanges(handle: NatsHandle, options: { stream?: string; subject?: string } = {}): Promise<ChangeEvent[]> {
  const stream = options.stream ?? 'DebeziumStream';
  const info = await handle.jsm.streams.info(stream);
  const out: ChangeEvent[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    // A message deleted in between (a purge, a limit) is a gap, not an error.
    const m = await handle.jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m || (options.subject !== undefined && m.subject !== options.subject)) continue;
    const d = decodeChange(m.data);
    if (d.kind === 'change') out.push(d.event);
  }
  return out;
}
