// Raw ASCII words of a text to ids, read straight from the text's character codes: no match object or substring per word.

/** ASCII letters and digits: what unicode61 makes tokens of in simple text (tokenizer.ts SIMPLE_TOKEN_SOURCE). */
const WORD_CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) WORD_CHAR[c] = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) ? 1 : 0;

/** Slots at first, doubled as words come (a table per tenant: thousands of small tenants each start small). */
const INITIAL_CAPACITY = 1 << 6;
/** Ints per table slot: hash, id, arena offset, length. */
const SLOT = 4;

/**
 * The words of simple text (runs of ASCII letters and digits; every other character separates) mapped to ids that a
 * `miss` callback assigns the first time a word is seen. The keyword index looked each word up in a `Map<string>` after
 * a global RegExp's exec: a match array and a new string per word, hashed again for the lookup. Here a word is hashed
 * (FNV-1a) as its characters are scanned and found in an open-addressed table whose slot holds the hash, the id and
 * where the word's characters are in one byte arena: a lookup reads one slot and one run of the arena (a Map read the
 * table, then the key string's object and its characters, each a cache miss once the vocabulary outgrows the cache).
 * Only a word never seen before becomes a string. Same words, same ids, in the same order as the RegExp gave them.
 */
export class WordTable {
  /** SLOT ints per slot: hash, id, arena offset, length (0: empty; a word has at least one character). */
  private slots = new Int32Array(INITIAL_CAPACITY * SLOT);
  private arena = new Uint8Array(INITIAL_CAPACITY * 8);
  private used = 0;
  private entries = 0;

  constructor(
    /** Entries kept before the table starts over (words repeat; the table is a cache of `miss`). */
    private readonly maxEntries: number,
    /** The id of a word not in the table. */
    private readonly miss: (word: string) => number,
  ) {}

  clear(): void {
    this.slots = new Int32Array(INITIAL_CAPACITY * SLOT);
    this.arena = new Uint8Array(INITIAL_CAPACITY * 8);
    this.used = 0;
    this.entries = 0;
  }

  /** Appends the id of every word of `text` to `out`, in order. */
  idsOf(text: string, out: number[]): void {
    const n = text.length;
    let i = 0;
    while (i < n) {
      let c = text.charCodeAt(i);
      if (c >= 128 || WORD_CHAR[c] === 0) {
        i++;
        continue;
      }
      const start = i;
      let h = 0x811c9dc5;
      for (;;) {
        h = Math.imul(h ^ c, 0x01000193);
        if (++i >= n) break;
        c = text.charCodeAt(i);
        if (c >= 128 || WORD_CHAR[c] === 0) break;
      }
      out.push(this.idOf(text, start, i, h));
    }
  }

  private idOf(text: string, start: number, end: number, h: number): number {
    const slots = this.slots;
    const arena = this.arena;
    const mask = slots.length / SLOT - 1;
    const length = end - start;
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const at = p * SLOT;
      const held = slots[at + 3] as number;
      if (held === 0) break;
      if (held !== length || slots[at] !== h) continue;
      const offset = slots[at + 2] as number;
      let k = 0;
      while (k < length && arena[offset + k] === text.charCodeAt(start + k)) k++;
      if (k === length) return slots[at + 1] as number;
    }
    const id = this.miss(text.slice(start, end));
    if (this.entries >= this.maxEntries) this.clear();
    this.insert(text, start, end, h, id);
    return id;
  }

  private insert(text: string, start: number, end: number, h: number, id: number): void {
    const length = end - start;
    // At most half full: probes stay short.
    if ((this.entries + 1) * 2 > this.slots.length / SLOT) this.grow();
    if (this.used + length > this.arena.length) {
      const next = new Uint8Array(Math.max(this.arena.length * 2, this.used + length));
      next.set(this.arena.subarray(0, this.used));
      this.arena = next;
    }
    // Simple words are ASCII: a byte per character.
    for (let k = 0; k < length; k++) this.arena[this.used + k] = text.charCodeAt(start + k);
    this.place(this.slots, h, id, this.used, length);
    this.used += length;
    this.entries++;
  }

  private place(slots: Int32Array, h: number, id: number, offset: number, length: number): void {
    const mask = slots.length / SLOT - 1;
    let p = h & mask;
    while (slots[p * SLOT + 3] !== 0) p = (p + 1) & mask;
    const at = p * SLOT;
    slots[at] = h;
    slots[at + 1] = id;
    slots[at + 2] = offset;
    slots[at + 3] = length;
  }

  private grow(): void {
    const old = this.slots;
    const slots = new Int32Array(old.length * 2);
    for (let at = 0; at < old.length; at += SLOT) {
      const length = old[at + 3] as number;
      if (length !== 0) this.place(slots, old[at] as number, old[at + 1] as number, old[at + 2] as number, length);
    }
    this.slots = slots;
  }
}
