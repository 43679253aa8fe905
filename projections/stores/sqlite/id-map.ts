// A map from SQLite row ids to values that grows a page at a time, so it never rehashes everything in one go.

/** Ids a page holds. 4,096 entries of 8 bytes: a 32 KB page, allocated when its first id is set. */
const PAGE_BITS = 12;
const PAGE = 1 << PAGE_BITS;

/**
 * Row ids (non-negative integers, assigned in increasing order by SQLite) to values. The in-memory indexes kept one
 * `Map` each for these; a `Map` rehashes its whole table each time it doubles, on the store's thread, inside the batch
 * that crosses the size: ~2.5 ms at 65,536 entries, ~5.5 at 131,072, ~22 at 524,288 for one map (measured here), and
 * three maps crossed together. Here an id picks its page by its high bits; pages are allocated as ids arrive and freed
 * when their last id goes, so memory follows the live ids (8 bytes an entry where a `Map` took ~30), and no operation
 * costs more than a page's allocation. Other numbers as keys (negative, fractional, unsafe) go to a plain `Map`.
 *
 * Pages pay only where ids are dense. A tenant's rows are numbered among every other tenant's, so a small tenant's few
 * ids each fell on a page of their own: 32 KB an id, ~1.3 GB for 20,000 tenants of one chunk (bench/tenants.bench.ts).
 * Ids stay in a `Map` until there are PAGED_FROM of them and pages would be at least PAGED_DENSITY full; checked again
 * at each doubling. A `Map` of that size rehashes in well under a millisecond.
 */
export class IdMap<V> {
  /** Every row id while few or sparse (undefined once paged). */
  private few: Map<number, V> | undefined = new Map();
  private checkAt = PAGED_FROM;
  private readonly pages: Array<Array<V | undefined> | undefined> = [];
  /** Live entries per page (a page is freed at 0). */
  private readonly counts: number[] = [];
  private readonly other = new Map<number, V>();
  private entries = 0;

  get size(): number {
    return this.entries + this.other.size + (this.few?.size ?? 0);
  }

  get(id: number): V | undefined {
    if (!isRowId(id)) return this.other.get(id);
    if (this.few) return this.few.get(id);
    return this.pages[id >>> PAGE_BITS]?.[id & (PAGE - 1)];
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Sets the value of `id` (undefined is not a value: use delete). */
  set(id: number, value: V): void {
    if (!isRowId(id)) {
      this.other.set(id, value);
      return;
    }
    if (this.few) {
      this.few.set(id, value);
      if (this.few.size >= this.checkAt) this.pageIfDense(this.few);
      return;
    }
    this.setPaged(id, value);
  }

  /** Moves the ids to pages when they would fill them enough, else checks again at twice as many. */
  private pageIfDense(few: Map<number, V>): void {
    const pages = new Set<number>();
    for (const id of few.keys()) pages.add(id >>> PAGE_BITS);
    if (pages.size * PAGE * PAGED_DENSITY > few.size) {
      this.checkAt *= 2;
      return;
    }
    this.few = undefined;
    for (const [id, value] of few) this.setPaged(id, value);
  }

  private setPaged(id: number, value: V): void {
    const p = id >>> PAGE_BITS;
    let page = this.pages[p];
    if (!page) {
      while (this.pages.length < p) {
        this.pages.push(undefined);
        this.counts.push(0);
      }
      page = new Array<V | undefined>(PAGE).fill(undefined);
      this.pages[p] = page;
      this.counts[p] = 0;
    }
    const i = id & (PAGE - 1);
    if (page[i] === undefined) {
      this.counts[p] = (this.counts[p] ?? 0) + 1;
      this.entries++;
    }
    page[i] = value;
  }

  delete(id: number): boolean {
    if (!isRowId(id)) return this.other.delete(id);
    if (this.few) return this.few.delete(id);
    const p = id >>> PAGE_BITS;
    const page = this.pages[p];
    const i = id & (PAGE - 1);
    if (!page || page[i] === undefined) return false;
    page[i] = undefined;
    this.entries--;
    const left = (this.counts[p] as number) - 1;
    this.counts[p] = left;
    if (left === 0) this.pages[p] = undefined;
    return true;
  }
}

/** Row ids kept in a Map before pages are considered, and the share of their pages they must fill to move there. */
const PAGED_FROM = 4096;
const PAGED_DENSITY = 1 / 8;

/** Ids this map pages: SQLite's row ids below 2^31 (a page table of at most 524,288 slots, and bit operations stay exact); larger ones go to the Map. */
const MAX_PAGED_ID = 2 ** 31;
const isRowId = (id: number): boolean => Number.isInteger(id) && id >= 0 && id < MAX_PAGED_ID;
