// spanda dlq list|show|redrive|purge: inspect dead-lettered events with their reasons, re-drive them after a fix, or drop them.
import { durationMs } from '../../lib/duration.ts';
import { decodeEvent } from '../../streams/codec.ts';
import { isEmptyFilter, purgeDlq, readDlq, redriveDlqEntries, scanDlq, type DlqEntry, type DlqFilter, type RedriveResult } from '../../streams/dlq.ts';
import { connectFrom, stringFlag } from '../env.ts';
import type { NatsHandle } from '../../streams/nats.ts';
import type { Command, CommandContext } from '../main.ts';
import { UsageError, printJson, printTable } from '../output.ts';
import { progressReporter } from '../progress.ts';

const USAGE = `spanda dlq list|show|redrive|purge [options]

  list                 entries with their stage, origin and reason (oldest first), then how many match in all, by reason
  show <dlq-seq>       one entry: reason, headers and the decoded event
  redrive [<dlq-seq>]  republish matching entries to their original subjects, then remove them
  purge [<dlq-seq>]    remove matching entries (without any filter only with --yes)

filters (all must match):
  --processor P   stage that rejected the input (chunker, embedder-<model>, projection-inference)
  --stream S      stream the input came from (DOCUMENTS, CHUNKS, EMBEDDINGS)
  --reason TEXT   substring of the reason (case-insensitive)
  --since WHEN    ISO time, or a duration back from now (30m, 2h, 7d)
options: --limit N (list, default 100), --force (redrive a DOCUMENTS entry a newer version superseded), --yes, --json, --nats-url URL`;

const decoder = new TextDecoder();

/** A point in time from an ISO date or a duration back from `now` (90s, 30m, 2h, 7d). */
export function parseSince(value: string, now = Date.now()): Date {
  const back = durationMs(value);
  if (back !== undefined) return new Date(now - back);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new UsageError(`--since ${JSON.stringify(value)}: use an ISO time (2026-12-01T08:00:00Z) or a duration (30m, 2h, 7d)`);
  return new Date(parsed);
}

function seqArg(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${JSON.stringify(value)} is not a DLQ sequence (a positive integer from \`spanda dlq list\`)`);
  return n;
}

function filterFrom(ctx: CommandContext, dlqSeq: number | undefined): DlqFilter {
  const since = stringFlag(ctx, 'since');
  const processor = stringFlag(ctx, 'processor');
  const stream = stringFlag(ctx, 'stream');
  const reason = stringFlag(ctx, 'reason');
  return {
    ...(processor !== undefined ? { processor } : {}),
    ...(stream !== undefined ? { stream: stream.toUpperCase() } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(since !== undefined ? { since: parseSince(since) } : {}),
    ...(dlqSeq !== undefined ? { dlqSeq } : {}),
  };
}

function summary(e: DlqEntry) {
  return { dlqSeq: e.dlqSeq, time: e.time, processor: e.stage, stream: e.stream, seq: e.seq, subject: e.subject, attempts: e.attempts, reason: e.reason };
}

function detail(e: DlqEntry) {
  let event: unknown;
  try {
    const decoded = decodeEvent({ subject: e.subject, data: e.data, headers: e.headers }, { stream: e.stream, seq: e.seq });
    event = { type: decoded.type, metadata: decoded.metadata, data: decoded.data };
  } catch (err) {
    // The reason it was dead-lettered may be that it does not decode: show the raw text instead.
    event = { undecodable: (err as Error).message, raw: decoder.decode(e.data).slice(0, 4000) };
  }
  const headers: Record<string, string> = {};
  for (const [key, values] of e.headers) headers[key] = values.join(', ');
  return { ...summary(e), headers, event };
}

/** A DLQ sequence named on the command line matched nothing: said on stderr, exit 1. */
function noSuchEntry(dlqSeq: number | undefined): number {
  process.stderr.write(`spanda: no DLQ entry ${dlqSeq} matches (it may have been re-driven or purged; \`spanda dlq list\` shows what is there)\n`);
  return 1;
}

/** Past this many entries, redrive prints counts rather than a row per entry. */
const TABLE_ROWS = 100;
/** A list scanning fewer entries than this is quick enough to show no progress. */
const PROGRESS_FROM = 50_000;

/** At most this many distinct (stage, reason) groups are counted; entries beyond them are counted together. */
const MAX_GROUPS = 10_000;

/** The oldest `limit` matching entries, how many match in all, and the ten commonest (stage, reason) among them. */
async function listDlq(handle: NatsHandle, filter: DlqFilter, limit: number) {
  const shown: DlqEntry[] = [];
  const groups = new Map<string, { stage: string; reason: string; count: number }>();
  const other = { stage: '–', reason: `(other reasons, past the first ${MAX_GROUPS})`, count: 0 };
  let matched = 0;
  // A DLQ of a million entries takes a while to count: progress on stderr, as redrive shows it.
  const progress = progressReporter(false);
  try {
    await scanDlq(handle, { filter, headersOnly: true, onProgress: (done, total) => total >= PROGRESS_FROM && progress.update('list', done, total) }, (entries) => {
      shown.push(...entries.slice(0, limit - shown.length));
      matched += entries.length;
      for (const e of entries) {
        // Reasons name the field or value at fault; their first 100 characters group alike entries well enough.
        const reason = e.reason.slice(0, 100);
        const key = `${e.stage}\u0000${reason}`;
        const group = groups.get(key);
        if (group) group.count += 1;
        else if (groups.size < MAX_GROUPS) groups.set(key, { stage: e.stage, reason, count: 1 });
        else other.count += 1;
      }
    });
  } finally {
    progress.finish();
  }
  const counted = [...groups.values(), ...(other.count > 0 ? [other] : [])];
  return { shown, matched, groups: counted.sort((a, b) => b.count - a.count).slice(0, 10) };
}

/** One re-driven (or skipped) entry as the command reports it; the entry's bytes are not kept. */
function redriveRow(r: RedriveResult) {
  const where = { dlqSeq: r.entry.dlqSeq, processor: r.entry.stage, subject: r.entry.subject };
  if (r.status === 'redriven') return { ...where, result: r.duplicate ? 'already re-driven' : 'redriven', newSeq: r.seq as number | null };
  if (r.status === 'superseded') return { ...where, result: `skipped: superseded by DOCUMENTS ${r.by} (--force to re-drive)`, newSeq: null };
  return { ...where, result: `${REFUSED}: ${r.reason}`, newSeq: null };
}

/** The result of an entry that names a subject it cannot have come from (a forged or damaged entry): left in the DLQ. */
const REFUSED = 'refused, left in the DLQ';

/** Re-drives the matching entries a batch at a time (each batch read, re-published in order, removed), with progress. */
/** What a re-drive did: rows to print (all of them for --json, else the first TABLE_ROWS + 1) and counts per result. */
interface Redriven {
  readonly rows: Array<ReturnType<typeof redriveRow>>;
  /** Entries per (processor, result), results of skipped entries taken together. */
  readonly counts: ReadonlyArray<{ processor: string; result: string; entries: number; skipped: boolean }>;
}

const SKIPPED = 'skipped: superseded by a newer version (--force to re-drive)';

/** Re-drives the matching entries a batch at a time (each batch read, re-published in order, removed), with progress. */
async function redriveAll(handle: NatsHandle, filter: DlqFilter, options: { force: boolean; json: boolean }): Promise<Redriven> {
  const progress = progressReporter(options.json);
  const rows: Array<ReturnType<typeof redriveRow>> = [];
  const counts = new Map<string, { processor: string; result: string; entries: number; skipped: boolean }>();
  try {
    await scanDlq(handle, { filter, onProgress: (scanned, all) => progress.update('redrive', scanned, all) }, async (entries) => {
      for (const row of (await redriveDlqEntries(handle, entries, { force: options.force })).map(redriveRow)) {
        if (options.json || rows.length <= TABLE_ROWS) rows.push(row);
        const refused = row.result.startsWith(REFUSED);
        const skipped = row.newSeq === null && !refused;
        const result = skipped ? SKIPPED : refused ? REFUSED : row.result;
        const count = counts.get(`${row.processor}\u0000${result}`) ?? { processor: row.processor, result, entries: 0, skipped };
        count.entries += 1;
        counts.set(`${row.processor}\u0000${result}`, count);
      }
    });
  } catch (err) {
    const handled = [...counts.values()].reduce((n, c) => n + c.entries, 0);
    if (handled > 0) process.stderr.write(`spanda: ${handled} entries were handled before this failure; \`spanda dlq redrive\` again re-drives the rest\n`);
    throw err;
  } finally {
    progress.finish();
  }
  return { rows, counts: [...counts.values()].sort((a, b) => b.entries - a.entries) };
}

export const dlqCommand: Command = {
  usage: USAGE,
  options: {
    processor: { type: 'string' },
    stream: { type: 'string' },
    reason: { type: 'string' },
    since: { type: 'string' },
    limit: { type: 'string' },
    force: { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
  },
  async run(ctx) {
    const [action, seqText, ...extra] = ctx.args;
    if (!action || !['list', 'show', 'redrive', 'purge'].includes(action)) throw new UsageError(`spanda dlq needs an action\nusage: ${USAGE}`);
    if (extra.length > 0 || (action === 'list' && seqText !== undefined)) throw new UsageError(`unexpected arguments: ${[seqText, ...extra].filter(Boolean).join(' ')}`);
    const dlqSeq = seqArg(seqText);
    if (action === 'show' && dlqSeq === undefined) throw new UsageError('spanda dlq show <dlq-seq>: which entry? (`spanda dlq list` shows them)');
    const filter = filterFrom(ctx, dlqSeq);
    const json = ctx.values.json === true;
    if (action === 'purge' && isEmptyFilter(filter) && ctx.values.yes !== true) {
      throw new UsageError('spanda dlq purge without a filter removes every entry: add --yes, or narrow it with --processor, --stream, --reason, --since or a DLQ sequence');
    }
    const handle = await connectFrom(ctx);
    try {
      if (action === 'list') {
        const limitText = stringFlag(ctx, 'limit');
        const limit = limitText === undefined ? 100 : Number(limitText);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit ${JSON.stringify(limitText)} must be a positive integer`);
        if (json) {
          printJson((await readDlq(handle, { filter, limit, headersOnly: true })).map(summary));
          return 0;
        }
        const listed = await listDlq(handle, filter, limit);
        if (listed.matched === 0) {
          process.stdout.write('the DLQ has no matching entries\n');
          return 0;
        }
        printTable(listed.shown.map(summary), ['dlqSeq', 'time', 'processor', 'stream', 'seq', 'attempts', 'reason']);
        if (listed.matched > listed.shown.length) {
          process.stdout.write(`\nshowing the oldest ${listed.shown.length} of ${listed.matched} matching entries (--limit N shows more; --reason, --processor, --since narrow them); by stage and reason:\n`);
          printTable(listed.groups.map((g) => ({ entries: g.count, processor: g.stage, reason: g.reason })), ['entries', 'processor', 'reason']);
        }
        return 0;
      }
      if (action === 'show') {
        const [entry] = await readDlq(handle, { filter, limit: 1 });
        if (!entry) {
          return noSuchEntry(dlqSeq);
        }
        const shown = detail(entry);
        if (json) printJson(shown);
        else {
          const { headers, event, ...rest } = shown;
          for (const [k, v] of Object.entries(rest)) process.stdout.write(`${k.padEnd(10)} ${String(v)}\n`);
          process.stdout.write(`headers    ${JSON.stringify(headers)}\nevent      ${JSON.stringify(event, null, 2)}\n`);
        }
        return 0;
      }
      if (action === 'redrive') {
        const { rows, counts } = await redriveAll(handle, filter, { force: ctx.values.force === true, json });
        const total = counts.reduce((n, c) => n + c.entries, 0);
        const skipped = counts.reduce((n, c) => n + (c.skipped ? c.entries : 0), 0);
        const refused = counts.reduce((n, c) => n + (c.result === REFUSED ? c.entries : 0), 0);
        if (total === 0 && dlqSeq !== undefined) return noSuchEntry(dlqSeq);
        if (json) printJson(rows);
        else if (total === 0) process.stdout.write('the DLQ has no matching entries\n');
        else {
          if (total <= TABLE_ROWS) printTable(rows, ['dlqSeq', 'processor', 'result', 'newSeq', 'subject']);
          else printTable(counts, ['entries', 'processor', 'result']);
          process.stdout.write(
            `${total - skipped - refused} re-driven; they are processed again from their original subjects` +
              `${skipped > 0 ? `; ${skipped} skipped (a newer version of their document is in the log)` : ''}` +
              `${total > TABLE_ROWS ? ' (--json lists every entry)' : ''}\n`,
          );
        }
        if (refused > 0) {
          process.stderr.write(
            `spanda: ${refused} entr${refused === 1 ? 'y names a subject' : 'ies name subjects'} outside the stream they say they came from and ${refused === 1 ? 'was' : 'were'} not re-driven ` +
              '(written to the DLQ by something other than a Spanda stage, or damaged); `spanda dlq show SEQ` shows one, `spanda dlq purge SEQ` removes it\n',
          );
          return 1;
        }
        return 0;
      }
      const removed = await purgeDlq(handle, filter);
      if (removed === 0 && dlqSeq !== undefined) return noSuchEntry(dlqSeq);
      if (json) printJson({ purged: removed });
      else process.stdout.write(`${removed} DLQ entr${removed === 1 ? 'y' : 'ies'} removed\n`);
      return 0;
    } finally {
      await handle.drain().catch(() => undefined);
    }
  },
};
