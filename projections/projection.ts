// A projection definition: which log slices it reads and how each event becomes store operations (pure, no I/O).
import type { EventType, SpandaEvent, StoredEvent } from '../streams/events/index.ts';
import type { StreamName } from '../streams/provision.ts';
import type { StoreOp } from './store.ts';

/** One slice of the log a projection reads; `key` names its checkpoint in the store. */
export interface ProjectionSource {
  readonly key: string;
  readonly stream: StreamName;
  readonly filterSubject: string;
}

export interface Projection<Op = StoreOp> {
  readonly name: string;
  /** Bumping the version means "rebuild me": a new generation is built from the start of the log. */
  readonly version: number;
  readonly sources: readonly ProjectionSource[];
  readonly canHandle: readonly EventType[];
  /** Maps one event to store operations. Throws ValidationError for an event it cannot apply (it goes to the DLQ). */
  project(event: StoredEvent<SpandaEvent>): Op[];
}
