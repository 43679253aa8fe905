// Exact FTS5 tokens for any text: the JS port where it applies (tokenizer.ts), else SQLite's own tokenizer on a scratch table.
import type Database from 'better-sqlite3';
import type { Tokenizer } from './keyword-index.ts';
import { FTS_TOKENIZE } from './schema.ts';
import { isSimpleText, simpleTokens } from './tokenizer.ts';

/**
 * A tokenizer for the keyword index on this connection. Text with non-ASCII letters goes through a temporary FTS5 table
 * with the tenants' tokenizer, read back with fts5vocab: SQLite's own folding and diacritic removal, token for token.
 */
export function ftsTokenizer(db: Database.Database): Tokenizer {
  let scratch: { insert: Database.Statement; read: Database.Statement<[], { doc: number; term: string; offset: number }>; clear: Database.Statement } | undefined;
  const viaSqlite = (texts: readonly string[]): string[][] => {
    if (!scratch) {
      db.exec(
        `CREATE VIRTUAL TABLE IF NOT EXISTS temp.spanda_tokens USING fts5 (t, tokenize = '${FTS_TOKENIZE}');
         CREATE VIRTUAL TABLE IF NOT EXISTS temp.spanda_tokens_v USING fts5vocab (temp, spanda_tokens, instance);`,
      );
      scratch = {
        insert: db.prepare('INSERT INTO temp.spanda_tokens (rowid, t) VALUES (?, ?)'),
        read: db.prepare<[], { doc: number; term: string; offset: number }>('SELECT doc, term, offset FROM temp.spanda_tokens_v'),
        clear: db.prepare('DELETE FROM temp.spanda_tokens'),
      };
    }
    const s = scratch;
    return db.transaction(() => {
      texts.forEach((t, i) => s.insert.run(BigInt(i + 1), t));
      const out = texts.map((): string[] => []);
      for (const r of s.read.iterate()) (out[r.doc - 1] as string[])[r.offset] = r.term;
      s.clear.run();
      // A phrase position with no token cannot occur in one column; compact defensively so lengths are token counts.
      return out.map((tokens) => tokens.filter((t) => t !== undefined));
    })();
  };
  return (texts) => {
    const out: string[][] = new Array<string[]>(texts.length);
    const hard: number[] = [];
    texts.forEach((t, i) => {
      if (isSimpleText(t)) out[i] = simpleTokens(t);
      else hard.push(i);
    });
    if (hard.length > 0) {
      const tokens = viaSqlite(hard.map((i) => texts[i] as string));
      hard.forEach((i, j) => (out[i] = tokens[j] as string[]));
    }
    return out;
  };
}
