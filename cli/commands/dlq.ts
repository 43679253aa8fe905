// spanda dlq list|show|redrive|purge: inspect dead-lettered events with their reasons, re-drive them after a fix, or drop them.
import { decodeEvent } from '../../streams/codec.ts';
import { isEmptyFilter, purgeDlq, readDlq, redriveDlqEntry, type DlqEntry, type DlqFilter, type RedriveResult } from '../../streams/dlq.ts';
import { connectFrom, stringFlag } from '../env.ts';
import type { Command, CommandContext } from '../main.ts';
import { UsageError, printJson, printTable } from '../output.ts';

const USAGE = `spanda dlq list|show|redrive|purge [options]

  list                 entries with their stage, origin and reason (oldest first)
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
  const duration = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(value.trim());
  if (duration) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(duration[1]) * unit);
  }
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
        const entries = (await readDlq(handle, { filter, limit })).map(summary);
        if (json) printJson(entries);
        else if (entries.length === 0) process.stdout.write('the DLQ has no matching entries\n');
        else printTable(entries, ['dlqSeq', 'time', 'processor', 'stream', 'seq', 'attempts', 'reason']);
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
        const results: RedriveResult[] = [];
        for (const entry of await readDlq(handle, { filter, limit: Number.MAX_SAFE_INTEGER })) {
          results.push(await redriveDlqEntry(handle, entry, { force: ctx.values.force === true }));
        }
        const rows = results.map((r) =>
          r.status === 'redriven'
            ? { dlqSeq: r.entry.dlqSeq, processor: r.entry.stage, subject: r.entry.subject, result: r.duplicate ? 'already re-driven' : 'redriven', newSeq: r.seq }
            : { dlqSeq: r.entry.dlqSeq, processor: r.entry.stage, subject: r.entry.subject, result: `skipped: superseded by DOCUMENTS ${r.by} (--force to re-drive)`, newSeq: null },
        );
        if (rows.length === 0 && dlqSeq !== undefined) return noSuchEntry(dlqSeq);
        if (json) printJson(rows);
        else if (rows.length === 0) process.stdout.write('the DLQ has no matching entries\n');
        else {
          printTable(rows, ['dlqSeq', 'processor', 'result', 'newSeq', 'subject']);
          process.stdout.write(`${results.filter((r) => r.status === 'redriven').length} re-driven; they are processed again from their original subjects\n`);
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
