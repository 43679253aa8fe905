// Fusion profiles: how far hybrid search trusts each embedding model's vector scores against BM25.
import { ConfigError } from '../../lib/errors.ts';
import type { FusionProfile } from './provider.ts';

/**
 * USE-lite alone scores nDCG@10 0.21 on SciFact where BM25 scores 0.68; min-max fusion weighted 0.2–0.3 toward
 * the vector side scores 0.688, so the weak model adds a little without dragging hybrid below keyword search.
 */
export const USE_LITE_FUSION: FusionProfile = { vectorWeight: 0.25 };

/** Feature hashing only matches shared words, which BM25 already does better; it gets a small say. */
export const HASH_FUSION: FusionProfile = { vectorWeight: 0.3 };

/** A profile with the vector weight replaced, e.g. from configuration; rejects weights outside [0, 1]. */
export function withVectorWeight(profile: FusionProfile, vectorWeight: number): FusionProfile {
  if (!Number.isFinite(vectorWeight) || vectorWeight < 0 || vectorWeight > 1) {
    throw new ConfigError(`vector weight must be a number from 0 (keyword only) to 1 (vector only), got ${vectorWeight}`);
  }
  return { ...profile, vectorWeight };
}
