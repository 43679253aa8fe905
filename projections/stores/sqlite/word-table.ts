// Raw ASCII words of a text to ids, read straight from the text's character codes: no match object or substring per word.

/** ASCII letters and digits: what unicode61 makes tokens of in simple text (tokenizer.ts SIMPLE_TOKEN_SOURCE). */
const WORD_CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) WORD_CHAR[c] = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) ? 1 : 0;

const INITIAL_CAPACITY = 1 << 12;

/**
 * The words of simple text (runs of ASCII letters and digits; every other character separates) mapped to ids that a
 * `miss` callback assigns the first time a word is seen. The keyword index looked each word up in a `Map<string>` after
 * a global RegExp's exec: a match array and a new string per word, hashed again for the lookup. Here a word is hashed
 * (FNV-1a) as its characters are scanned and found in an open-addressed table by comparing characters in place; only
 * a word never seen before becomes a string. Same words, same ids, in the same order as the RegExp gave them.
 */
export class WordTable {
  /** Entry index + 1 per table slot (0: empty). */
  private slots = new Int32Array(INITIAL_CAPACITY);
  private hashes = new Int32Array(INITIAL_CAPACITY);
  private ids = new Int32Array(INITIAL_CAPACITY);
  private words: string[] = [];

  constructor(
    /** Entries kept before the table starts over (words repeat; the table is a cache of `miss`). */
    private readonly maxEntries: number,
    /** The id of a word not in the table. */
    private readonly miss: (word: string) => number,
  ) {}

  get size(): number {
    return this.words.length;
  }

  clear(): void {
    this.slots = new Int32Array(INITIAL_CAPACITY);
    this.hashes = new Int32Array(INITIAL_CAPACITY);
    this.ids = new Int32Array(INITIAL_CAPACITY);
    this.words = [];
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
    const mask = this.slots.length - 1;
    const length = end - start;
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const entry = (this.slots[p] as number) - 1;
      if (entry < 0) break;
      if (this.hashes[entry] !== h) continue;
      const word = this.words[entry] as string;
      if (word.length !== length) continue;
      let k = 0;
      while (k < length && word.charCodeAt(k) === text.charCodeAt(start + k)) k++;
      if (k === length) return this.ids[entry] as number;
    }
    const word = text.slice(start, end);
    const id = this.miss(word);
    if (this.words.length >= this.maxEntries) this.clear();
    this.insert(word, h, id);
    return id;
  }

  private insert(word: string, h: number, id: number): void {
    const entry = this.words.length;
    // At most half full: probes stay short.
    if ((entry + 1) * 2 > this.slots.length) this.grow();
    if (entry >= this.ids.length) {
      const grown = (a: Int32Array) => {
        const next = new Int32Array(a.length * 2);
        next.set(a);
        return next;
      };
      this.ids = grown(this.ids);
      this.hashes = grown(this.hashes);
    }
    this.words.push(word);
    this.ids[entry] = id;
    this.hashes[entry] = h;
    this.place(h, entry);
  }

  private place(h: number, entry: number): void {
    const mask = this.slots.length - 1;
    let p = h & mask;
    while (this.slots[p] !== 0) p = (p + 1) & mask;
    this.slots[p] = entry + 1;
  }

  private grow(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    for (let entry = 0; entry < this.words.length; entry++) this.place(this.hashes[entry] as number, entry);
  }
}
