// The derived in-memory vector index: one growable matrix of normalised float32 rows per tenant, searched exactly.
import usearch from 'usearch';
import { IdMap } from './id-map.ts';

export interface ChunkScore {
  /** Row id of the chunk in SQLite. */
  readonly chunk: number;
  /** Cosine similarity of the chunk's best window. */
  readonly score: number;
}

/** A change to apply to the index once its SQLite transaction has committed. */
export type IndexChange =
  | {
      readonly kind: 'upsert';
      readonly tenant: string;
      readonly vectorId: number;
      readonly chunk: number;
      /** Row id of the chunk's document: filters are per document, so a filtered search selects rows by it. */
      readonly doc: number;
      readonly vector: Uint8Array;
    }
  | { readonly kind: 'remove'; readonly tenant: string; readonly vectorId: number };

/**
 * Rows a new tenant's matrix starts with, doubled as it grows; and the fewest a shrink leaves. A store may hold
 * thousands of tenants of a few documents each: 1,024 rows at first (and a resizable buffer each) cost 19 s and 3.3 GB
 * for 20,000 tenants of one 64-d vector (scratch, this machine).
 */
const INITIAL_ROWS = 2;
const SHRINK_FLOOR_ROWS = 1024;
/**
 * Matrices smaller than this are plain arrays (growing one by copying costs little); a matrix that grows past it moves
 * once to a resizable buffer. So only large tenants reserve address space, and the budget below goes to them.
 */
const RESIZABLE_FROM_BYTES = 8 * 2 ** 20;

/** The largest resizable ArrayBuffer this V8 allows (Node 20: 4 GiB, 2M rows of 512 floats). */
const MAX_RESIZABLE_BYTES = 2 ** 32;
/**
 * Address space all resizable matrices of this thread may reserve: 16 TiB of the 128 TiB a process can address, i.e.
 * 4,096 buffers (a tenant's matrix and its int8 copy are two). Tenants beyond it get plain arrays, grown by copying.
 */
const RESERVATION_BUDGET = 16 * 2 ** 40;
let reserved = 0;
const released = new FinalizationRegistry<number>((bytes) => {
  reserved -= bytes;
});

type RowArray = Float32Array | Int8Array;
interface RowArrayKind<T extends RowArray> {
  new (length: number): T;
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/**
 * An array of `length` elements; from RESIZABLE_FROM_BYTES on, on a resizable buffer that reserves MAX_RESIZABLE_BYTES of address space (no memory):
 * it grows in place (growRows), so a growing matrix is never copied. Copying doubled the matrix in one go on the
 * store's thread, and the copy's first-touch page faults stalled queries and writes alike: ~0.5 s at 65k × 512-d, ~1 s
 * at 131k (measured here). In place, the new pages are faulted in a row at a time as rows are written. Beyond 4 GiB,
 * past the reservation budget, or when the address space cannot be reserved: a plain array, grown by copying.
 */
function rowArray<T extends RowArray>(Kind: RowArrayKind<T>, length: number): T {
  const bytes = length * Kind.BYTES_PER_ELEMENT;
  if (bytes >= RESIZABLE_FROM_BYTES && bytes <= MAX_RESIZABLE_BYTES && reserved + MAX_RESIZABLE_BYTES <= RESERVATION_BUDGET) {
    try {
      const buffer = new ArrayBuffer(bytes, { maxByteLength: MAX_RESIZABLE_BYTES });
      reserved += MAX_RESIZABLE_BYTES;
      released.register(buffer, MAX_RESIZABLE_BYTES);
      return new Kind(buffer, 0, length);
    } catch {
      // no address space left to reserve: a plain array works the same, it only grows by copying
    }
  }
  return new Kind(length);
}

/** A copy of the first `length` elements of `array` in a buffer of their size (the larger one is then freed). */
function shrinkRows<T extends RowArray>(Kind: RowArrayKind<T>, array: T, length: number): T {
  const next = rowArray(Kind, length);
  next.set(array.subarray(0, length));
  return next;
}

/** `array` grown to `length` elements, keeping its first `used`: in place when its buffer can grow that far. */
function growRows<T extends RowArray>(Kind: RowArrayKind<T>, array: T, length: number, used: number): T {
  const buffer = array.buffer as ArrayBuffer;
  const bytes = length * Kind.BYTES_PER_ELEMENT;
  if (buffer.resizable && bytes <= buffer.maxByteLength) {
    buffer.resize(bytes);
    return new Kind(buffer, 0, length);
  }
  const next = rowArray(Kind, length);
  next.set(array.subarray(0, used));
  return next;
}

// Measured here (512 dims): a JS dot product costs about 1.2 µs a row, the native scan about 0.085 µs a row of the
// whole matrix, so scoring allowed rows directly pays only when at most about 1 row in 14 is allowed.
const SCAN_RATIO = 14;
/** Rows sampled to estimate how many a filter allows (see allowedRows). */
const ALLOWED_SAMPLE = 4096;

/**
 * From this many rows an unfiltered search preselects candidates on int8 copies of the rows and re-scores them in f32.
 * Measured at 100k × 512-d on this machine: 6.9 ms against 18.8 ms for the f32 scan, recall of the top 60 1.000 with a
 * pool of 200. Below it (and with a filter) the scan is exact in f32 as before.
 */
export const QUANTIZED_MIN_ROWS = 20_000;

/** Unit vectors' components are ~1/√dims; ±QUANT_SIGMAS of that maps onto ±127 (larger components clamp). */
const QUANT_SIGMAS = 4;

/**
 * Rounds each component half up, as Math.round does, but without it: V8 compiles Math.round with a branch on the
 * value, which random components mispredict about half the time (4.1-4.8 µs a 512-d row against 0.6 here, measured on
 * rows of random unit vectors; a constant row hid it). Within ±127 the sum stays positive, where truncation is floor.
 * NaN (never in a validated vector) is stored as 0, as Math.round's NaN was.
 */
export function quantize(out: Int8Array, offset: number, row: Float32Array, rowOffset: number, dims: number): void {
  const scale = (127 * Math.sqrt(dims)) / QUANT_SIGMAS;
  for (let j = 0; j < dims; j++) {
    const v = (row[rowOffset + j] as number) * scale;
    out[offset + j] = v > 127 ? 127 : v >= -127 ? ((v + 128.5) | 0) - 128 : v < -127 ? -127 : 0;
  }
}

/**
 * usearch's 64-bit keys (row slots) as 32-bit words: key i's slot is word 2·i + LOW_WORD (slots stay far below 2^32).
 * Reading a BigUint64Array makes a BigInt per element, garbage that every query made hundreds of.
 */
function slotsOf(keys: BigUint64Array): Uint32Array {
  return new Uint32Array(keys.buffer, keys.byteOffset, keys.length * 2);
}

/** The best score per chunk as a list (without the [chunk, score] pair per entry that spreading the Map makes). */
function chunkScores(best: Map<number, number>): ChunkScore[] {
  const out: ChunkScore[] = [];
  best.forEach((score, chunk) => out.push({ chunk, score }));
  return out;
}

/** Which 32-bit word of a 64-bit integer holds its low half on this machine (0 when little-endian). */
const LOW_WORD = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1;

/** Copies little-endian float32 bytes (any alignment) into `out` at `offset` and scales the row to unit length. */
function writeNormalised(out: Float32Array, offset: number, dims: number, bytes: Uint8Array): void {
  new Uint8Array(out.buffer, out.byteOffset + offset * 4, dims * 4).set(bytes.subarray(0, dims * 4));
  let sum = 0;
  for (let j = 0; j < dims; j++) {
    const x = out[offset + j] as number;
    sum += x * x;
  }
  // A zero vector stays zero: it scores 0 against everything instead of NaN.
  if (sum > 0) {
    const scale = 1 / Math.sqrt(sum);
    for (let j = 0; j < dims; j++) out[offset + j] = (out[offset + j] as number) * scale;
  }
}

/** A unit-length copy of `vector` in a fresh buffer (the native search reads from the start of the ArrayBuffer). */
export function normalisedCopy(vector: Float32Array): Float32Array {
  const out = new Float32Array(vector.length);
  writeNormalised(out, 0, vector.length, new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
  return out;
}

function dot(data: Float32Array, offset: number, query: Float32Array, dims: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < dims; j += 4) {
    s0 += (data[offset + j] as number) * (query[j] as number);
    s1 += (data[offset + j + 1] as number) * (query[j + 1] as number);
    s2 += (data[offset + j + 2] as number) * (query[j + 2] as number);
    s3 += (data[offset + j + 3] as number) * (query[j + 3] as number);
  }
  for (; j < dims; j++) s0 += (data[offset + j] as number) * (query[j] as number);
  return s0 + s1 + s2 + s3;
}

const scratchRows = new Map<number, { row: Float32Array; row8: Int8Array }>();

/** The row scratch of every matrix of `dims` (a thread uses one at a time; a pair per tenant was ~2.5 KB each at 512-d). */
function rowScratch(dims: number): { row: Float32Array; row8: Int8Array } {
  let scratch = scratchRows.get(dims);
  if (!scratch) scratchRows.set(dims, (scratch = { row: new Float32Array(dims), row8: new Int8Array(dims) }));
  return scratch;
}

/** Rows of one tenant. Deletes swap the last row into the hole so the matrix stays dense for the native scan. */
export class TenantMatrix {
  private data: Float32Array;
  /**
   * int8 copies of the rows, searched from QUANTIZED_MIN_ROWS on. Kept from the first row: building them all when the
   * matrix reached that size stalled the store's thread ~0.2 s (20k × 512-d, measured); a row costs ~1 µs to follow.
   */
  private q8: Int8Array;
  private rows = 0;
  private slotVector: number[] = [];
  private slotChunk: number[] = [];
  private slotDoc: number[] = [];
  private readonly slotOf = new IdMap<number>();
  /**
   * One row on a plain buffer, where JS reads and writes rows. Element access to a typed array on a resizable buffer
   * takes V8 (Node 20) 2-4× as long as on a plain one (measured here, 512-d: a dot product 3.3 µs against 0.8, a
   * normalisation 6-10 against 3.2), so a row is copied out (a memcpy) before its dot product, and normalised and
   * quantized here before it is copied in.
   */
  private readonly row: Float32Array;
  private readonly row8: Int8Array;

  constructor(readonly dims: number, capacity = INITIAL_ROWS) {
    ({ row: this.row, row8: this.row8 } = rowScratch(dims));
    this.data = rowArray(Float32Array, Math.max(1, capacity) * dims);
    this.q8 = rowArray(Int8Array, this.data.length);
  }

  get size(): number {
    return this.rows;
  }

  upsert(vectorId: number, chunk: number, doc: number, vector: Uint8Array): void {
    let slot = this.slotOf.get(vectorId);
    if (slot === undefined) {
      if ((this.rows + 1) * this.dims > this.data.length) this.grow();
      slot = this.rows++;
      this.slotOf.set(vectorId, slot);
      this.slotVector[slot] = vectorId;
    }
    this.slotChunk[slot] = chunk;
    this.slotDoc[slot] = doc;
    writeNormalised(this.row, 0, this.dims, vector);
    quantize(this.row8, 0, this.row, 0, this.dims);
    this.data.set(this.row, slot * this.dims);
    this.q8.set(this.row8, slot * this.dims);
  }

  /** The dot product of a row with `query`, on a copy of the row (see `row`). */
  private rowDot(slot: number, query: Float32Array): number {
    const from = slot * this.dims;
    this.row.set(this.data.subarray(from, from + this.dims));
    return dot(this.row, 0, query, this.dims);
  }

  remove(vectorId: number): void {
    const slot = this.slotOf.get(vectorId);
    if (slot === undefined) return;
    this.slotOf.delete(vectorId);
    const last = --this.rows;
    if (slot !== last) {
      this.data.copyWithin(slot * this.dims, last * this.dims, (last + 1) * this.dims);
      this.q8.copyWithin(slot * this.dims, last * this.dims, (last + 1) * this.dims);
      const moved = this.slotVector[last] as number;
      this.slotVector[slot] = moved;
      this.slotChunk[slot] = this.slotChunk[last] as number;
      this.slotDoc[slot] = this.slotDoc[last] as number;
      this.slotOf.set(moved, slot);
    }
    this.slotVector.length = last;
    this.slotChunk.length = last;
    this.slotDoc.length = last;
    // Give memory back once deletes leave the matrix a quarter full (halving keeps room to grow without thrashing).
    if (this.data.length > SHRINK_FLOOR_ROWS * this.dims && this.rows * this.dims * 4 < this.data.length) {
      const length = Math.max(SHRINK_FLOOR_ROWS, this.rows * 2) * this.dims;
      this.data = shrinkRows(Float32Array, this.data, length);
      this.q8 = shrinkRows(Int8Array, this.q8, length);
    }
  }

  /** Bytes of the matrix (capacity, not only the rows in use). */
  get bytes(): number {
    return this.data.byteLength + this.q8.byteLength;
  }

  private grow(): void {
    const length = Math.max(this.data.length * 2, this.dims * INITIAL_ROWS);
    const used = this.rows * this.dims;
    this.data = growRows(Float32Array, this.data, length, used);
    this.q8 = growRows(Int8Array, this.q8, length, used);
  }

  /**
   * The `want` best chunks (best window each) for a unit-length query, by exact scan, plus any chunk tied with the
   * last one (the caller breaks ties by content, so the cut does not depend on scan order). Windows are over-fetched
   * until that set is known to be complete.
   */
  search(query: Float32Array, want: number): ChunkScore[] {
    if (this.rows >= QUANTIZED_MIN_ROWS) return this.quantizedSearch(query, want);
    return this.scan(query, want, Math.min(this.rows, want + 8), undefined);
  }

  /**
   * The best windows of a pool preselected on the int8 rows (4·want + 64, at least 256), re-scored exactly in f32; the
   * caller keeps the best `want` and their ties. Approximate only in which rows enter the pool. With `accept` (a filter
   * allowing `allowed` rows) the pool grows by rows / allowed, so as many allowed rows enter it, and doubles until it
   * holds `want` allowed chunks or every row.
   */
  private quantizedSearch(query: Float32Array, want: number, accept?: (slot: number) => boolean, allowed = this.rows): ChunkScore[] {
    const q8 = this.q8.subarray(0, this.rows * this.dims);
    const q = new Int8Array(this.dims);
    quantize(q, 0, query, 0, this.dims);
    let pool = Math.min(this.rows, Math.ceil((Math.max(want * 4 + 64, 256) * this.rows) / allowed));
    for (;;) {
      const { keys } = usearch.exactSearch(q8, q, this.dims, pool, usearch.MetricKind.IP, 1) as { keys: BigUint64Array };
      const slots = slotsOf(keys);
      const best = new Map<number, number>();
      for (let i = 0; i < keys.length; i++) {
        const slot = slots[2 * i + LOW_WORD] as number;
        const chunk = this.slotChunk[slot];
        if (chunk === undefined || (accept && !accept(slot))) continue;
        const score = this.rowDot(slot, query);
        const held = best.get(chunk);
        if (held === undefined || score > held) best.set(chunk, score);
      }
      if (!accept || best.size >= want || pool >= this.rows) return chunkScores(best);
      pool = Math.min(this.rows, pool * 2);
    }
  }

  /**
   * Like search, over the rows of the given documents only (the ones a filter allows). A few allowed rows are scored
   * directly (exact); many are found by the native scan, which beats a JS loop once more than about 1 row in
   * SCAN_RATIO is allowed: exactly in f32 below QUANTIZED_MIN_ROWS, fetching more until enough allowed chunks (and
   * every tie) are in; from there preselected on the int8 rows as search() does, in a pool as much larger as the
   * allowed rows are fewer.
   */
  searchDocuments(query: Float32Array, docs: ReadonlySet<number>, want: number): ChunkScore[] {
    if (docs.size === 0 || want <= 0) return [];
    const allowed = this.allowedRows(docs);
    if (allowed === 0) return [];
    if (allowed * SCAN_RATIO > this.rows) {
      const accept = (slot: number) => docs.has(this.slotDoc[slot] as number);
      if (this.rows >= QUANTIZED_MIN_ROWS) return this.quantizedSearch(query, want, accept, allowed);
      const expected = Math.ceil(((want + 8) * this.rows * 2) / allowed);
      return this.scan(query, want, Math.min(this.rows, expected), accept);
    }
    const best = new Map<number, number>();
    for (let slot = 0; slot < this.rows; slot++) {
      if (!docs.has(this.slotDoc[slot] as number)) continue;
      const chunk = this.slotChunk[slot] as number;
      const score = this.rowDot(slot, query);
      const held = best.get(chunk);
      if (held === undefined || score > held) best.set(chunk, score);
    }
    return chunkScores(best);
  }

  /**
   * How many rows the documents hold: counted exactly up to ALLOWED_SAMPLE rows, estimated from as many evenly spaced
   * ones beyond (it only picks the path and the first pool size; both scans then fetch more until they have enough).
   * Counting all 100k rows took ~0.85 ms here.
   */
  private allowedRows(docs: ReadonlySet<number>): number {
    const step = Math.max(1, Math.floor(this.rows / ALLOWED_SAMPLE));
    let seen = 0;
    let allowed = 0;
    for (let slot = 0; slot < this.rows; slot += step) {
      seen++;
      if (docs.has(this.slotDoc[slot] as number)) allowed++;
    }
    if (step === 1) return allowed;
    // An estimate never says none: some rows may fall between the samples, and the direct loop finds them exactly.
    return Math.max(1, Math.round((allowed * this.rows) / seen));
  }

  private scan(query: Float32Array, want: number, initialCount: number, accept: ((slot: number) => boolean) | undefined): ChunkScore[] {
    if (this.rows === 0 || want <= 0) return [];
    const dataset = this.data.subarray(0, this.rows * this.dims);
    let count = Math.max(1, initialCount);
    for (;;) {
      // One thread: measured faster than two on this 2-core machine, and it leaves a core to the event loop.
      const { keys, distances } = usearch.exactSearch(dataset, query, this.dims, count, usearch.MetricKind.IP, 1) as {
        keys: BigUint64Array;
        distances: Float32Array;
      };
      // Matches come best first, so a chunk's first appearance is its best window.
      const slots = slotsOf(keys);
      const firstDistance = new Map<number, number>();
      const order: number[] = [];
      for (let i = 0; i < keys.length; i++) {
        const slot = slots[2 * i + LOW_WORD] as number;
        const chunk = this.slotChunk[slot];
        if (chunk === undefined || firstDistance.has(chunk) || (accept && !accept(slot))) continue;
        firstDistance.set(chunk, distances[i] as number);
        order.push(chunk);
      }
      const boundary = order.length >= want ? (firstDistance.get(order[want - 1] as number) as number) : Infinity;
      const lastFetched = distances[keys.length - 1] as number;
      if (count >= this.rows || lastFetched > boundary) {
        const best = new Map<number, number>();
        for (let i = 0; i < keys.length; i++) {
          if ((distances[i] as number) > boundary) break;
          const slot = slots[2 * i + LOW_WORD] as number;
          if (accept && !accept(slot)) continue;
          const chunk = this.slotChunk[slot] as number;
          // Exact JS dot product: the same score the direct path reports, whatever rounding the SIMD scan used.
          const score = this.rowDot(slot, query);
          const held = best.get(chunk);
          if (held === undefined || score > held) best.set(chunk, score);
        }
        return chunkScores(best);
      }
      count = Math.min(this.rows, count * 2);
    }
  }
}

/** Every tenant's matrix; rebuilt from SQLite on open and kept in step with committed batches. */
export class VectorIndex {
  private readonly tenants = new Map<string, TenantMatrix>();

  constructor(readonly dims: number) {}

  tenant(name: string): TenantMatrix | undefined {
    return this.tenants.get(name);
  }

  reserve(name: string, rows: number): void {
    if (!this.tenants.has(name)) this.tenants.set(name, new TenantMatrix(this.dims, rows));
  }

  apply(changes: readonly IndexChange[]): void {
    for (const change of changes) {
      if (change.kind === 'upsert') {
        let matrix = this.tenants.get(change.tenant);
        if (!matrix) {
          matrix = new TenantMatrix(this.dims);
          this.tenants.set(change.tenant, matrix);
        }
        matrix.upsert(change.vectorId, change.chunk, change.doc, change.vector);
      } else {
        this.tenants.get(change.tenant)?.remove(change.vectorId);
      }
    }
  }

  get size(): number {
    let n = 0;
    for (const m of this.tenants.values()) n += m.size;
    return n;
  }

  get bytes(): number {
    let n = 0;
    for (const m of this.tenants.values()) n += m.bytes;
    return n;
  }
}
