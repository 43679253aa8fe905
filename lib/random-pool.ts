// Random bytes from a pool refilled 4 KiB at a time: one randomBytes() call per id cost more than building the id (event and trace ids).
import { randomBytes } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** The pool and the offset of `n` (at most 4096) fresh random bytes in it; read them before the next call. */
export function takeRandom(n: number): { readonly bytes: Buffer; readonly offset: number } {
  if (n > POOL_BYTES) throw new RangeError(`takeRandom: at most ${POOL_BYTES} bytes at a time (asked ${n})`);
  if (offset + n > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const at = offset;
  offset += n;
  return { bytes: pool, offset: at };
}

/** `n` random bytes as lower-case hex. */
export function randomHex(n: number): string {
  const { bytes, offset: at } = takeRandom(n);
  return bytes.toString('hex', at, at + n);
}
