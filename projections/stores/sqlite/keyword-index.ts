// The derived in-memory keyword index: per-tenant posting lists scored with FTS5's BM25 over FTS5's own tokens.
//
// The chunk rows are the truth; this index is rebuilt from them at open and follows committed batches, like the vector
// matrix. It began as a faster ranker beside an FTS5 table per tenant (ranking every match of a topical query cost FTS5
// ~1 µs a row in its bm25() callback; here it is a tight loop over typed arrays) and is now the only keyword index.
// Scores use the formula, constants and summation order of SQLite's fts5Bm25Function over the live rows, so they equal
// `-bm25(fts, weights…)` of an FTS5 table holding the same rows (keyword-index.test.ts checks it against one).

import { IdMap } from './id-map.ts';
import { isSimpleText, porterStem } from './tokenizer.ts';
import { WordTable } from './word-table.ts';

/** A chunk row as the index takes it: text, title and heading columns. */
export interface KeywordRow {
  readonly chunk: number;
  /** Row id of the chunk's document (filters are per document). */
  readonly doc: number;
  /** The chunk's content key (store.ts chunkKey): hits need it, and a SQL lookup per hit costs more than the scoring. */
  readonly key: string;
  readonly text: string;
  readonly title: string | null;
  readonly heading: string | null;
}

/** A change to make once the SQLite transaction that wrote it has committed. */
export type KeywordChange =
  | ({ readonly kind: 'add'; readonly tenant: string } & KeywordRow)
  | { readonly kind: 'remove'; readonly tenant: string; readonly chunk: number };

/** Exact FTS5 tokens of each text, in order (the store answers with its JS port or asks SQLite). */
export type Tokenizer = (texts: readonly string[]) => string[][];

/** Column weights in FTS column order (text, title, heading). */
export interface ColumnWeights {
  readonly text: number;
  readonly title: number;
  readonly heading: number;
}

export interface KeywordScore {
  readonly chunk: number;
  readonly score: number;
}

// fts5Bm25Function's constants.
const K1 = 1.2;
const B = 0.75;

/** fts5Bm25Function's IDF: log((N − n + 0.5) / (n + 0.5)), floored at 1e-6 for terms in more than half the rows. */
function bm25Idf(nRow: number, nHit: number): number {
  const idf = Math.log((nRow - nHit + 0.5) / (nHit + 0.5));
  return idf <= 0.0 ? 1e-6 : idf;
}

// Per-posting column counts packed in 32 bits; a count that does not fit goes to the tenant's overflow map.
const TEXT_MAX = 0xffff;
const SMALL_MAX = 0xff;
const OVERFLOW = 0xffffffff;

/**
 * Rows a tenant's arrays start with, doubled as it grows. Each tenant has arrays of its own, and a store may hold
 * thousands of tenants of a few documents each: starting at 1,024 rows (and a 96 KB word table) cost 17 s and 3.6 GB
 * for 20,000 tenants of one chunk (scratch, this machine); everything here starts small and grows.
 */
const INITIAL_SLOTS = 16;
/** Term ids the per-row count scratch covers at first (3 counts each). */
const INITIAL_TERMS = 64;
const WORD_CACHE_MAX = 500_000;
/** Pending postings whose scratch arrays stay allocated between batches (an ingest batch of 500 chunks has ~50k). */
const KEPT_PENDING = 1 << 16;
/** Pending postings a tenant's scratch holds at first. */
const INITIAL_PENDING = 64;
/**
 * The counting sort's scratch, shared by every tenant (flushes run one at a time on the store's thread): a run start
 * per term id, then the pairs in term order. Per tenant it would hold up to a megabyte each.
 */
const sortScratch = { runStarts: new Int32Array(0), sortedPairs: new Uint32Array(0) };

/** A column as indexed: simple text (tokenized by the index itself), FTS5's tokens of other text, or empty. */
type Column = string | readonly string[] | null;

class Posting {
  /** Interleaved [slot, packed counts] pairs. */
  data = new Uint32Array(8);
  length = 0;

  push(slot: number, packed: number): void {
    if (this.length * 2 + 2 > this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length * 2] = slot;
    this.data[this.length * 2 + 1] = packed;
    this.length++;
  }

  /** Appends `count` [slot, packed] pairs of `pairs` from pair `from` on. */
  appendRun(pairs: Uint32Array, from: number, count: number): void {
    const need = (this.length + count) * 2;
    if (need > this.data.length) {
      let size = this.data.length * 2;
      while (size < need) size *= 2;
      const next = new Uint32Array(size);
      next.set(this.data.subarray(0, this.length * 2));
      this.data = next;
    }
    this.data.set(pairs.subarray(from * 2, (from + count) * 2), this.length * 2);
    this.length += count;
  }
}

/** Keeps the `want` best (and every score tied with the last) of a stream of scores. */
function topWithTies(scores: Float64Array, count: number, want: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  if (count <= want) return order;
  // A size-`want` min-heap of indexes into slots/scores, then every score ≥ the heap's minimum.
  const heap = order.slice(0, want);
  const less = (a: number, b: number) => (scores[a] as number) < (scores[b] as number);
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < want && less(heap[l] as number, heap[m] as number)) m = l;
      if (r < want && less(heap[r] as number, heap[m] as number)) m = r;
      if (m === i) return;
      const t = heap[i] as number;
      heap[i] = heap[m] as number;
      heap[m] = t;
      i = m;
    }
  };
  for (let i = (want >> 1) - 1; i >= 0; i--) down(i);
  for (let i = want; i < count; i++) {
    if ((scores[i] as number) > (scores[heap[0] as number] as number)) {
      heap[0] = i;
      down(0);
    }
  }
  const cut = scores[heap[0] as number] as number;
  const out: number[] = [];
  for (let i = 0; i < count; i++) if ((scores[i] as number) >= cut) out.push(i);
  return out;
}

/** One tenant's index: what FTS5 keeps for BM25 (row count, total tokens, per-row length, per-term postings). */
export class TenantKeywords {
  private readonly terms = new Map<string, number>();
  private readonly postings: Posting[] = [];
  private readonly overflow = new Map<string, readonly [number, number, number]>();
  private readonly slotOf = new IdMap<number>();
  private chunkOf = new Float64Array(INITIAL_SLOTS);
  private docOf = new Float64Array(INITIAL_SLOTS);
  private lengthOf = new Int32Array(INITIAL_SLOTS);
  private alive = new Uint8Array(INITIAL_SLOTS);
  private slots = 0;
  private dead = 0;
  /** Live rows. */
  private rows = 0;
  /** Tokens in the live rows (FTS5's xColumnTotalSize(-1)); the row count (xRowCount) is `rows`. */
  private totalTokens = 0;
  // Scratch for scoring, reused across queries.
  private acc = new Float64Array(0);
  private seen = new Uint8Array(0);
  /** The slots a query touched, then its candidates (filtered in place), and quickselect's copy of their sums. */
  private touched = new Int32Array(0);
  private sums = new Float64Array(0);
  private counts = new Int32Array(3 * INITIAL_TERMS);
  private readonly scratchIds: number[] = [];
  /**
   * Postings of the rows added since the last flush, in row order: term ids, and [slot, packed] pairs. Appending a
   * row's postings one by one touched a posting list per (row, term), each a cache miss or three once the lists
   * outgrow the cache; a flush sorts them by term (stably: slots stay in order) and appends each term's run at once.
   */
  private pendingTerms = new Int32Array(INITIAL_PENDING);
  private pendingPairs = new Uint32Array(2 * INITIAL_PENDING);
  private pendingCount = 0;
  /** 3 × the term ids a row holds (their offsets in `counts`), in first-seen order. */
  private readonly scratchTouched: number[] = [];
  /** Term ids of raw ASCII words (before lower-casing and stemming): one lookup for the words seen before. */
  private readonly wordIds = new WordTable(WORD_CACHE_MAX, (word) => this.termId(porterStem(word.toLowerCase())));

  get size(): number {
    return this.rows;
  }

  /** Approximate bytes held (typed arrays and posting lists), for the memory benchmark. */
  get bytes(): number {
    this.flush();
    let n = this.chunkOf.byteLength + this.docOf.byteLength + this.lengthOf.byteLength + this.alive.byteLength;
    n += this.acc.byteLength + this.seen.byteLength + this.touched.byteLength + this.sums.byteLength;
    for (const p of this.postings) n += p.data.byteLength;
    return n;
  }

  /** Term id of a stemmed token, creating the term. */
  private termId(token: string): number {
    let id = this.terms.get(token);
    if (id === undefined) {
      id = this.postings.length;
      this.terms.set(token, id);
      this.postings.push(new Posting());
    }
    return id;
  }

  /** Term ids of one column: simple text is tokenized here (tokenizer.ts rules), other text arrives as FTS5's tokens. */
  private columnIds(column: Column, out: number[]): void {
    if (column === null) return;
    if (typeof column === 'string') {
      this.wordIds.idsOf(column, out);
    } else {
      for (const token of column) out.push(this.termId(token));
    }
  }

  add(row: KeywordRow, columns: readonly [Column, Column, Column]): void {
    if (this.slotOf.has(row.chunk)) this.remove(row.chunk);
    if (this.slots === this.chunkOf.length) this.growSlots(this.slots * 2);
    const slot = this.slots++;
    this.slotOf.set(row.chunk, slot);
    this.chunkOf[slot] = row.chunk;
    this.docOf[slot] = row.doc;
    this.alive[slot] = 1;
    // Per-term column counts in reused scratch arrays indexed by term id (a Map per row costs more than the rest).
    const touched = this.scratchTouched;
    touched.length = 0;
    let length = 0;
    const ids = this.scratchIds;
    for (let column = 0; column < 3; column++) {
      ids.length = 0;
      this.columnIds(columns[column] as Column, ids);
      length += ids.length;
      // Term ids only grow: the counts cover every id once they cover the largest one so far.
      if (3 * this.postings.length > this.counts.length) {
        const next = new Int32Array(Math.max(3 * INITIAL_TERMS, 6 * this.postings.length));
        next.set(this.counts);
        this.counts = next;
      }
      const counts = this.counts;
      for (let i = 0; i < ids.length; i++) {
        const at = 3 * (ids[i] as number);
        if (counts[at] === 0 && counts[at + 1] === 0 && counts[at + 2] === 0) touched.push(at);
        counts[at + column] = (counts[at + column] as number) + 1;
      }
    }
    this.lengthOf[slot] = length;
    this.rows++;
    this.totalTokens += length;
    const counts = this.counts;
    for (let i = 0; i < touched.length; i++) {
      const at = touched[i] as number;
      const id = at / 3;
      const t = counts[at] as number;
      const ti = counts[at + 1] as number;
      const h = counts[at + 2] as number;
      counts[at] = counts[at + 1] = counts[at + 2] = 0;
      let packed: number;
      if (t > TEXT_MAX || ti > SMALL_MAX || h > SMALL_MAX) {
        this.overflow.set(`${slot}:${id}`, [t, ti, h]);
        packed = OVERFLOW;
      } else {
        packed = (t | (ti << 16) | (h << 24)) >>> 0;
      }
      this.pend(id, slot, packed);
    }
  }

  private pend(id: number, slot: number, packed: number): void {
    const at = this.pendingCount++;
    if (at === this.pendingTerms.length) {
      const terms = new Int32Array(at * 2);
      terms.set(this.pendingTerms);
      this.pendingTerms = terms;
      const pairs = new Uint32Array(at * 4);
      pairs.set(this.pendingPairs);
      this.pendingPairs = pairs;
    }
    this.pendingTerms[at] = id;
    this.pendingPairs[2 * at] = slot;
    this.pendingPairs[2 * at + 1] = packed;
  }

  /** Appends the pending postings to their lists (see pendingTerms); the index reads no list before. */
  flush(): void {
    const n = this.pendingCount;
    if (n === 0) return;
    this.pendingCount = 0;
    const ids = this.pendingTerms;
    const pairs = this.pendingPairs;
    const terms = this.postings.length;
    // A few postings (one small document) go straight to their lists: sorting would visit every term.
    if (n * 8 < terms) {
      for (let i = 0; i < n; i++) (this.postings[ids[i] as number] as Posting).push(pairs[2 * i] as number, pairs[2 * i + 1] as number);
      return;
    }
    if (sortScratch.runStarts.length < terms) sortScratch.runStarts = new Int32Array(terms * 2);
    if (sortScratch.sortedPairs.length < 2 * n) sortScratch.sortedPairs = new Uint32Array(4 * n);
    const starts = sortScratch.runStarts;
    const sorted = sortScratch.sortedPairs;
    starts.fill(0, 0, terms);
    for (let i = 0; i < n; i++) starts[ids[i] as number] = (starts[ids[i] as number] as number) + 1;
    let sum = 0;
    for (let t = 0; t < terms; t++) {
      const count = starts[t] as number;
      starts[t] = sum;
      sum += count;
    }
    for (let i = 0; i < n; i++) {
      const at = starts[ids[i] as number] as number;
      starts[ids[i] as number] = at + 1;
      sorted[2 * at] = pairs[2 * i] as number;
      sorted[2 * at + 1] = pairs[2 * i + 1] as number;
    }
    // Each start has moved to the end of its run, where the next term's run starts.
    let from = 0;
    for (let t = 0; t < terms; t++) {
      const end = starts[t] as number;
      if (end > from) (this.postings[t] as Posting).appendRun(sorted, from, end - from);
      from = end;
    }
    // Scratch sized for a whole page of rows at open is not kept for the small batches that follow.
    if (this.pendingTerms.length > KEPT_PENDING) {
      this.pendingTerms = new Int32Array(INITIAL_PENDING);
      this.pendingPairs = new Uint32Array(2 * INITIAL_PENDING);
    }
    if (sortScratch.sortedPairs.length > 4 * KEPT_PENDING) sortScratch.sortedPairs = new Uint32Array(0);
  }

  remove(chunk: number): void {
    const slot = this.slotOf.get(chunk);
    if (slot === undefined) return;
    // A compaction renumbers slots: no pending posting may still name the old ones.
    this.flush();
    this.slotOf.delete(chunk);
    this.alive[slot] = 0;
    this.rows--;
    this.totalTokens -= this.lengthOf[slot] as number;
    this.dead++;
    // Dead entries are skipped when scoring; once they outnumber the live ones the lists are rewritten without them.
    if (this.dead > 1024 && this.dead > this.rows) this.compact();
  }

  private growSlots(capacity: number): void {
    const grow = <T extends Float64Array | Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(a.subarray(0, Math.min(a.length, capacity)) as never);
      return next;
    };
    this.chunkOf = grow(this.chunkOf, (n) => new Float64Array(n));
    this.docOf = grow(this.docOf, (n) => new Float64Array(n));
    this.lengthOf = grow(this.lengthOf, (n) => new Int32Array(n));
    this.alive = grow(this.alive, (n) => new Uint8Array(n));
  }

  /** Renumbers live slots densely and drops dead postings and unused terms: memory follows the live rows. */
  private compact(): void {
    const remap = new Int32Array(this.slots).fill(-1);
    let next = 0;
    for (let s = 0; s < this.slots; s++) {
      if (!this.alive[s]) continue;
      remap[s] = next;
      this.chunkOf[next] = this.chunkOf[s] as number;
      this.docOf[next] = this.docOf[s] as number;
      this.lengthOf[next] = this.lengthOf[s] as number;
      this.alive[next] = 1;
      this.slotOf.set(this.chunkOf[next] as number, next);
      next++;
    }
    this.alive.fill(0, next, this.slots);
    const overflow = new Map(this.overflow);
    this.overflow.clear();
    const oldTerms = [...this.terms];
    this.terms.clear();
    this.wordIds.clear();
    const oldPostings = this.postings.splice(0);
    for (const [token, id] of oldTerms) {
      const p = oldPostings[id] as Posting;
      const kept = new Posting();
      for (let i = 0; i < p.length; i++) {
        const to = remap[p.data[2 * i] as number] as number;
        if (to < 0) continue;
        const packed = p.data[2 * i + 1] as number;
        kept.push(to, packed);
        if (packed === OVERFLOW) this.overflow.set(`${to}:${this.postings.length}`, overflow.get(`${p.data[2 * i]}:${id}`) as [number, number, number]);
      }
      if (kept.length === 0) continue;
      if (kept.data.length > 4 * kept.length + 8) kept.data = kept.data.slice(0, Math.max(8, kept.length * 2));
      this.terms.set(token, this.postings.length);
      this.postings.push(kept);
    }
    this.slots = next;
    this.dead = 0;
    const capacity = Math.max(INITIAL_SLOTS, next * 2);
    if (capacity < this.chunkOf.length) this.growSlots(capacity);
    this.acc = new Float64Array(0);
    this.seen = new Uint8Array(0);
    this.touched = new Int32Array(0);
    this.sums = new Float64Array(0);
  }

  /** FTS5's IDF of an index token in this tenant (0 for a token no live row holds). */
  idf(token: string): number {
    this.flush();
    const id = this.terms.get(token);
    if (id === undefined) return 0;
    const nHit = this.documentFrequency(this.postings[id] as Posting);
    return nHit === 0 ? 0 : bm25Idf(this.rows, nHit);
  }

  /** nHit: live rows holding the token. */
  private documentFrequency(p: Posting): number {
    if (this.dead === 0) return p.length;
    let n = 0;
    for (let i = 0; i < p.length; i++) n += this.alive[p.data[2 * i] as number] as number;
    return n;
  }

  /** The weighted term frequency (f in BM25) of a posting, summed in FTS5's order: text, then title, then heading. */
  private frequency(packed: number, slot: number, id: number, weights: ColumnWeights): number {
    let t: number;
    let ti: number;
    let h: number;
    if (packed === OVERFLOW) {
      [t, ti, h] = this.overflow.get(`${slot}:${id}`) as [number, number, number];
    } else {
      t = packed & 0xffff;
      ti = (packed >>> 16) & 0xff;
      h = packed >>> 24;
    }
    // FTS5 adds each instance's column weight in position order (text, then title, then heading).
    let f = 0.0;
    for (let k = 0; k < t; k++) f += weights.text;
    for (let k = 0; k < ti; k++) f += weights.title;
    for (let k = 0; k < h; k++) f += weights.heading;
    return f;
  }

  /**
   * Keeps, in place at the front of `touched`, the first `count` slots whose running sum is at least `floor`, and
   * returns how many; the others leave the accumulator (acc and seen cleared).
   */
  private keepAbove(count: number, floor: number): number {
    const { acc, seen, touched } = this;
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const slot = touched[i] as number;
      if ((acc[slot] as number) >= floor) {
        touched[kept++] = slot;
      } else {
        acc[slot] = 0;
        seen[slot] = 0;
      }
    }
    return kept;
  }

  /**
   * The best `limit` chunks for an OR of single-token phrases (in query order; a token may repeat), plus every chunk
   * tied with the last, scored exactly as FTS5's bm25() with these column weights. `allow` keeps to the documents a
   * filter admits (statistics stay the whole table's, as in FTS5).
   *
   * Phrases are read best bound first (a phrase adds at most idf·(k1+1) to a row). Once the phrases left could not lift
   * a row that none of the read ones matched up to the current `limit`-th best, they are not scanned: only the rows
   * that could still reach the cut complete their sums with them (posting lists are in slot order), the cut rising
   * and the candidates thinning after each. A query word found in most rows (idf floored at 1e-6) then costs a few
   * lookups instead of a pass over most of the tenant. The rows left at the cut are scored again in query order, so
   * every score is still exactly bm25()'s.
   */
  search(
    phrases: readonly string[],
    weights: ColumnWeights,
    limit: number,
    allow?: (doc: number) => boolean,
    phraseWeights?: readonly number[],
  ): KeywordScore[] {
    this.flush();
    if (this.rows === 0 || limit <= 0) return [];
    if (this.acc.length < this.slots) {
      // Scratch for every query, sized to the slots: a query allocates no array per matching row. Those arrays were
      // two fifths of what a hybrid query allocated at 100k chunks, and as many of the collections that paused queries.
      this.acc = new Float64Array(this.chunkOf.length);
      this.seen = new Uint8Array(this.chunkOf.length);
      this.touched = new Int32Array(this.chunkOf.length);
      this.sums = new Float64Array(this.chunkOf.length);
    }
    const { acc, seen, alive, lengthOf, docOf, touched, sums } = this;
    const nRow = this.rows;
    const avgdl = this.totalTokens / nRow;
    // The phrases that can score, in query order: posting list, term id and idf (scaled by its weight, if any).
    const terms: Array<{ readonly p: Posting; readonly id: number; readonly idf: number }> = [];
    for (let q = 0; q < phrases.length; q++) {
      const id = this.terms.get(phrases[q] as string);
      if (id === undefined) continue; // nHit = 0: the phrase scores 0 in every row
      const p = this.postings[id] as Posting;
      const nHit = this.documentFrequency(p);
      if (nHit === 0) continue;
      // A weighted phrase (query expansion) scales its IDF; unweighted, the product is FTS5's own.
      const idf = bm25Idf(nRow, nHit) * (phraseWeights ? (phraseWeights[q] ?? 0) : 1);
      if (idf === 0) continue;
      terms.push({ p, id, idf });
    }
    // Read order: largest bound first. Pruning assumes no phrase lowers a score, so a negative weight turns it off.
    const prunable = terms.every((t) => t.idf > 0);
    const order = terms.map((_, i) => i);
    if (prunable) order.sort((a, b) => (terms[b]?.idf as number) - (terms[a]?.idf as number) || a - b);
    const bound = (i: number) => (terms[order[i] as number]?.idf as number) * (K1 + 1.0);
    let touchedCount = 0;
    let read = 0;
    let rest = 0;
    for (let i = 0; i < order.length; i++) rest += bound(i);
    let cut = -Infinity;
    for (; read < order.length; read++) {
      if (prunable && read > 0 && touchedCount >= limit) {
        cut = kthLargest(acc, touched, touchedCount, limit, sums);
        // What the unread phrases add, at most, stays below the cut (with room for the summation-order rounding).
        if (rest < cut * (1 - 1e-9)) break;
      }
      rest -= bound(read);
      const { p, id, idf } = terms[order[read] as number] as (typeof terms)[number];
      const data = p.data;
      for (let i = 0; i < p.length; i++) {
        const slot = data[2 * i] as number;
        if (!alive[slot]) continue;
        if (allow && !allow(docOf[slot] as number)) continue;
        const contribution = bm25Term(idf, this.frequency(data[2 * i + 1] as number, slot, id, weights), lengthOf[slot] as number, avgdl);
        if (!seen[slot]) {
          seen[slot] = 1;
          touched[touchedCount++] = slot;
        }
        acc[slot] = (acc[slot] as number) + contribution;
      }
    }
    const pruned = read < order.length;
    // Rows that may still reach the cut: within the unread phrases' bound of it (a margin covers the summation order).
    // The candidates are the first `candidates` entries of `touched`.
    let candidates = touchedCount;
    if (pruned) {
      candidates = this.keepAbove(touchedCount, cut * (1 - 1e-9) - rest);
      // The unread phrases complete the candidates' sums, best bound first; after each, the cut rises and the bound of
      // what is left falls, so fewer rows stay candidates for the next. A long list is read through once (rows not
      // among the candidates skipped), a short one is looked up per candidate, whichever visits fewer entries.
      for (let j = read; j < order.length; j++) {
        rest -= bound(j);
        const { p, id, idf } = terms[order[j] as number] as (typeof terms)[number];
        const data = p.data;
        if (p.length <= candidates * Math.log2(p.length + 1)) {
          for (let i = 0; i < p.length; i++) {
            const slot = data[2 * i] as number;
            if (!seen[slot]) continue;
            acc[slot] = (acc[slot] as number) + bm25Term(idf, this.frequency(data[2 * i + 1] as number, slot, id, weights), lengthOf[slot] as number, avgdl);
          }
        } else {
          for (let c = 0; c < candidates; c++) {
            const slot = touched[c] as number;
            const at = findSlot(p, slot);
            if (at < 0) continue;
            acc[slot] = (acc[slot] as number) + bm25Term(idf, this.frequency(data[2 * at + 1] as number, slot, id, weights), lengthOf[slot] as number, avgdl);
          }
        }
        if (candidates > limit) {
          cut = kthLargest(acc, touched, candidates, limit, sums);
          candidates = this.keepAbove(candidates, cut * (1 - 1e-9) - rest);
        }
      }
      rest = 0;
    } else {
      cut = touchedCount > limit ? kthLargest(acc, touched, touchedCount, limit, sums) : -Infinity;
    }
    // Scores are summed again, in query order, unless every phrase was read and in that order.
    const exactAgain = pruned || order.some((q, i) => q !== i);
    // Every sum is complete now: only rows at the cut can be among the best (tied within rounding, when the sums are
    // redone in query order; exactly, when they are already FTS5's). A topical word's thousands of other matches stop
    // here instead of going through the final sort.
    const floor = exactAgain ? cut * (1 - 1e-9) : cut;
    const slots: number[] = [];
    const scores: number[] = [];
    for (let c = 0; c < candidates; c++) {
      const slot = touched[c] as number;
      const sum = acc[slot] as number;
      acc[slot] = 0;
      seen[slot] = 0;
      if (sum < floor) continue;
      slots.push(slot);
      scores.push(exactAgain ? 0 : sum);
    }
    if (exactAgain) {
      // FTS5 sums a row's phrases in query order; the read order above may round differently in the last bit.
      for (const { p, id, idf } of terms) {
        for (let s = 0; s < slots.length; s++) {
          const slot = slots[s] as number;
          const at = findSlot(p, slot);
          if (at < 0) continue;
          scores[s] = (scores[s] as number) + bm25Term(idf, this.frequency(p.data[2 * at + 1] as number, slot, id, weights), lengthOf[slot] as number, avgdl);
        }
      }
    }
    const scoreArray = Float64Array.from(scores);
    return topWithTies(scoreArray, scoreArray.length, limit).map((i) => ({ chunk: this.chunkOf[slots[i] as number] as number, score: scoreArray[i] as number }));
  }
}

/** One phrase's BM25 term in a row: fts5Bm25Function's formula, for weighted frequency f and row length D (tokens). */
function bm25Term(idf: number, f: number, D: number, avgdl: number): number {
  return idf * ((f * (K1 + 1.0)) / (f + K1 * (1 - B + (B * D) / avgdl)));
}

/** Index of `slot` in a posting list (entries are in ascending slot order), or −1. */
function findSlot(p: Posting, slot: number): number {
  let lo = 0;
  let hi = p.length - 1;
  const data = p.data;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = data[2 * mid] as number;
    if (at === slot) return mid;
    if (at < slot) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** The k-th largest accumulator among the first `count` touched slots (k ≤ count), by quickselect on a copy in `values`. */
function kthLargest(acc: Float64Array, touched: Int32Array, count: number, k: number, values: Float64Array): number {
  for (let i = 0; i < count; i++) values[i] = acc[touched[i] as number] as number;
  let lo = 0;
  let hi = count - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >>> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((values[i] as number) > pivot) i++;
      while ((values[j] as number) < pivot) j--;
      if (i <= j) {
        const t = values[i] as number;
        values[i] = values[j] as number;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return values[target] as number;
}

/** Every tenant's keyword index; rebuilt from SQLite on open and kept in step with committed batches. */
export class KeywordIndex {
  private readonly tenants = new Map<string, TenantKeywords>();
  /** Content key of every indexed chunk by row id (row ids are unique across tenants). */
  private readonly keys = new IdMap<string>();

  constructor(private readonly tokenize: Tokenizer) {}

  tenant(name: string): TenantKeywords | undefined {
    return this.tenants.get(name);
  }

  /** The content key of a chunk row held by the index. */
  keyOf(chunk: number): string | undefined {
    return this.keys.get(chunk);
  }

  apply(changes: readonly KeywordChange[]): void {
    if (changes.length === 0) return;
    // Simple text is tokenized by the tenant index as it adds the row; the rest goes to SQLite's tokenizer in one call.
    const hard: string[] = [];
    const at = new Map<string, number>();
    const column = (s: string | null): string | number | null => {
      if (s === null || s.length === 0) return null;
      if (isSimpleText(s)) return s;
      let i = at.get(s);
      if (i === undefined) {
        i = hard.length;
        hard.push(s);
        at.set(s, i);
      }
      return i;
    };
    const refs = changes.map((c) => (c.kind === 'add' ? [column(c.text), column(c.title), column(c.heading)] : undefined));
    const tokens = hard.length > 0 ? this.tokenize(hard) : [];
    const of = (c: string | number | null): Column => (typeof c === 'number' ? (tokens[c] as string[]) : c);
    // The tenants this batch added rows to: their pending postings are appended at the end (TenantKeywords.flush).
    const added = new Set<TenantKeywords>();
    changes.forEach((change, i) => {
      let index = this.tenants.get(change.tenant);
      if (change.kind === 'remove') {
        index?.remove(change.chunk);
        this.keys.delete(change.chunk);
        return;
      }
      this.keys.set(change.chunk, change.key);
      if (!index) this.tenants.set(change.tenant, (index = new TenantKeywords()));
      const [t, ti, h] = refs[i] as Array<string | number | null>;
      index.add(change, [of(t ?? null), of(ti ?? null), of(h ?? null)]);
      added.add(index);
    });
    for (const index of added) index.flush();
  }

  get size(): number {
    let n = 0;
    for (const t of this.tenants.values()) n += t.size;
    return n;
  }

  get bytes(): number {
    let n = 0;
    for (const t of this.tenants.values()) n += t.bytes;
    return n;
  }
}
