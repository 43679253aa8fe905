// What crosses between a threaded processor and its worker thread: the processor to build, batches in, encoded outcomes and errors out.
import { PermanentEventError, SpandaError, StorageLimitError, TransientError, UnavailableError, ValidationError } from '../../lib/errors.ts';
import type { EventType, SpandaEvent, StoredEvent } from '../../streams/events/index.ts';
import type { ThreadableProvider } from '../embedder/provider.ts';

/** The processor a worker builds, from the same factories the main thread would call (same names, ids and outputs). */
export type ThreadedSpec =
  | { readonly kind: 'chunker'; readonly size: number; readonly overlap: number }
  | { readonly kind: 'embedder'; readonly provider: ThreadableProvider };

export interface HandleRequest {
  readonly inputs: readonly StoredEvent<SpandaEvent>[];
  readonly maxPayloadBytes: number;
}

/** An Error as plain data, with what the runner reads of each class (DLQ or retry, and when). */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly issues?: readonly string[];
  readonly retryAfterMs?: number;
  readonly retryAfterSeconds?: number;
}

/** One encoded output; its payload is bytes [start, end) of the reply's `payloads`. */
export interface WireOutput {
  readonly subject: string;
  readonly type: EventType;
  readonly msgId: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly start: number;
  readonly end: number;
}

export type WireOutcome = { readonly outputs: readonly WireOutput[] } | { readonly error: WireError };

/** One embed call of the worker's provider, for the main thread's embedder metrics. */
export interface EmbedCall {
  readonly texts: number;
  readonly seconds: number;
  readonly failed?: 'permanent' | 'transient';
}

export interface HandleReply {
  readonly outcomes: readonly WireOutcome[];
  /** Every output's payload back to back (one buffer, transferred). */
  readonly payloads: Uint8Array;
  readonly embeds: readonly EmbedCall[];
}

export function toWireError(error: Error): WireError {
  return {
    name: error.name,
    message: error.message,
    ...(error instanceof SpandaError ? { code: error.code } : {}),
    ...(error instanceof ValidationError ? { issues: [...error.issues] } : {}),
    ...(error instanceof TransientError && error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    ...(error instanceof UnavailableError ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
  };
}

/** The error again, as a class the runner tells apart (DLQ for permanent and validation errors, the retry hints kept). */
export function fromWireError(wire: WireError): Error {
  switch (wire.name) {
    case 'PermanentEventError':
      return new PermanentEventError(wire.message);
    case 'ValidationError':
      return new ValidationError(wire.message, wire.issues ?? []);
    case 'TransientError':
      return new TransientError(wire.message, wire.retryAfterMs);
    case 'UnavailableError':
      return new UnavailableError(wire.message, wire.retryAfterSeconds);
    case 'StorageLimitError':
      return new StorageLimitError(wire.message);
    default:
      return wire.code !== undefined ? new SpandaError(wire.code, wire.message) : new Error(wire.message);
  }
}
