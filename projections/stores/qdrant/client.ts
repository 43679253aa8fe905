// The Qdrant REST client for Spanda: one constructor from config, and Qdrant failures turned into Spanda's named errors.
import { QdrantClient, QdrantClientResourceExhaustedError, QdrantClientTimeoutError } from '@qdrant/js-client-rest';
import { errorMessageWithCauses, NotFoundError, SpandaError, UnavailableError, ValidationError } from '../../../lib/errors.ts';

export interface QdrantConnection {
  readonly url: string;
  readonly apiKey?: string;
}

export function createQdrantClient(connection: QdrantConnection): QdrantClient {
  return new QdrantClient({
    url: connection.url,
    ...(connection.apiKey !== undefined ? { apiKey: connection.apiKey } : {}),
    // The version check is a fire-and-forget request that only logs; a store's first call reports an unreachable server.
    checkCompatibility: false,
    timeout: 60_000,
  });
}

/** The `{status: {error}}` text of a Qdrant error response, when there is one. */
function qdrantMessage(data: unknown): string | undefined {
  if (data !== null && typeof data === 'object' && 'status' in data) {
    const status = (data as { status: unknown }).status;
    if (status !== null && typeof status === 'object' && 'error' in status && typeof status.error === 'string') return status.error;
  }
  return undefined;
}

/** Maps a failed call: 4xx that retrying cannot fix → ValidationError/NotFoundError; outages, timeouts, 429 and 5xx → UnavailableError. */
export function qdrantError(what: string, err: unknown): Error {
  if (err instanceof SpandaError) return err;
  if (err instanceof QdrantClientResourceExhaustedError) return new UnavailableError(`Qdrant is overloaded (${what})`, err.retry_after, { cause: err });
  if (err instanceof QdrantClientTimeoutError) return new UnavailableError(`Qdrant did not answer in time (${what})`, 5, { cause: err });
  const status = err !== null && typeof err === 'object' && 'status' in err && typeof err.status === 'number' ? err.status : undefined;
  if (status !== undefined) {
    const detail = qdrantMessage((err as { data?: unknown }).data) ?? (err instanceof Error ? err.message : String(err));
    if (status === 404) return new NotFoundError(`Qdrant: ${what}: ${detail}`);
    if (status >= 400 && status < 500 && status !== 429) return new ValidationError(`Qdrant refused ${what}: ${detail}`, [`qdrant: ${detail}`], { cause: err });
    return new UnavailableError(`Qdrant failed ${what} (HTTP ${status}): ${detail}`, 5, { cause: err });
  }
  return new UnavailableError(`Qdrant is unreachable (${what}): ${errorMessageWithCauses(err)}; check that it runs and that QDRANT_URL names it`, 5, { cause: err });
}

/** Runs one Qdrant call, mapping its failure. */
export async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw qdrantError(what, err);
  }
}
