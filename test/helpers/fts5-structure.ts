// Reads an FTS5 table's structure record (its segments), as fts5_index.c writes it, for tests of how the store merges.
import type Database from 'better-sqlite3';
import { readVarint } from '../../projections/stores/sqlite/schema.ts';

/**
 * How many segments (b-trees) the FTS5 table `table` holds: its structure record (%_data, id 10) is a 4-byte cookie,
 * the 4-byte marker 0xFF000001 in its second version, then varints for the number of levels and of segments.
 */
export function ftsSegmentCount(db: Database.Database, table: string): number {
  const block = db.prepare<[], Buffer>(`SELECT block FROM "${table.replaceAll('"', '""')}_data" WHERE id = 10`).pluck().get();
  if (!block || block.length < 6) return 0;
  let at = 4;
  if (block[4] === 0xff && block[5] === 0 && block[6] === 0 && block[7] === 1) at = 8;
  const [, afterLevels] = readVarint(block, at);
  return readVarint(block, afterLevels)[0];
}
