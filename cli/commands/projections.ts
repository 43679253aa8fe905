// spanda projections list|rollback|gc: the generations of a projection, switching back to a kept one, collecting retired ones.
import path from 'node:path';
import { lockFile } from '../../lib/data-dir-lock.ts';
import { ConfigError, errorMessage } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import type { Generations } from '../../projections/generations.ts';
import { INDEXING_ROLE } from '../../projections/catalog-serving.ts';
import { catalogStoreFactory } from '../../projections/stores/catalog/registry.ts';
import { storeFactory } from '../../projections/stores/registry.ts';
import { provision } from '../../streams/provision.ts';
import { configFrom, connectFrom, stringFlag } from '../env.ts';
import { generationRuntime, INFERENCE_ROLE, storeConfigOf } from '../inference-runtime.ts';
import type { Command } from '../main.ts';
import { UsageError, printJson, printTable } from '../output.ts';

async function rollback(generations: Generations, role: string, to: string | undefined): Promise<{ from: string; to: string }> {
  // A generation named with --to is checked first: it is also the way to point an alias that was deleted somewhere.
  if (to !== undefined) await servable(generations, role, to);
  const { alias, revision } = await generations.alias(role);
  if (!alias && to === undefined) throw new ConfigError(`the ${role} projection has no active generation to roll back from; name one with --to (see \`spanda projections list\`)`);
  const target = to ?? alias?.previous;
  if (!target) throw new ConfigError(`generation ${alias?.generation} has no previous generation recorded; name one with --to (see \`spanda projections list\`)`);
  if (to === undefined) await servable(generations, role, target);
  await generations.switchAlias(role, target, revision);
  return { from: alias?.generation ?? 'none', to: target };
}

/** Throws unless `id` is a completed generation of the role. */
async function servable(generations: Generations, role: string, id: string): Promise<void> {
  const record = await generations.get(role, id);
  if (!record) throw new ConfigError(`no generation ${id}; see \`spanda projections list\``);
  if (record.state === 'building') throw new ConfigError(`generation ${id} was never completed; it cannot serve`);
}

export const projectionsCommand: Command = {
  usage: 'spanda projections list|rollback [--to ID]|gc [--keep 2] [--building] [--projection inference] [--json] [--nats-url URL] [--data-dir DIR]',
  options: { projection: { type: 'string' }, to: { type: 'string' }, keep: { type: 'string' }, building: { type: 'boolean' }, 'data-dir': { type: 'string' } },
  async run(ctx) {
    const [action] = ctx.args;
    if (action !== 'list' && action !== 'rollback' && action !== 'gc') throw new UsageError(`give list, rollback or gc\nusage: ${this.usage}`);
    const role = stringFlag(ctx, 'projection') ?? INFERENCE_ROLE;
    const keepText = stringFlag(ctx, 'keep') ?? '2';
    const keep = Number(keepText);
    if (!Number.isSafeInteger(keep) || keep < 0) throw new UsageError(`--keep must be a whole number ≥ 0\nusage: ${this.usage}`);
    const config = configFrom(ctx);
    const handle = await connectFrom(ctx);
    try {
      const { kv } = await provision(handle);
      const { generations } = generationRuntime(handle, kv, config, [], silentLogger);
      if (action === 'rollback') {
        const switched = await rollback(generations, role, stringFlag(ctx, 'to'));
        if (ctx.values.json) printJson({ status: 'rolled-back', ...switched });
        else process.stdout.write(`the ${role} alias now points at ${switched.to} (was ${switched.from}); serving nodes follow it\n`);
        return 0;
      }
      const { alias } = await generations.alias(role);
      // Keys under gen.<role>. that hold no generation record (written by hand or by something else): named, and with
      // `gc --building` removed, instead of failing every command that lists generations.
      const { records, invalid: unreadable } = await generations.listAll(role);
      for (const u of unreadable) {
        if (action === 'gc' && ctx.values.building === true) {
          await generations.remove(role, u.id);
          process.stderr.write(`spanda: removed gen.${role}.${u.id}, which held no generation record\n`);
        } else process.stderr.write(`spanda: ${u.problem}\n`);
      }
      if (action === 'list') {
        const rows = records.map((r) => ({
          generation: r.id,
          state: r.id === alias?.generation ? 'active' : r.state,
          model: r.spec.model.id,
          store: r.spec.store.kind,
          created: r.createdAt,
          checkpoints: r.checkpoints ?? {},
        }));
        if (ctx.values.json) printJson({ active: alias?.generation ?? null, previous: alias?.previous ?? null, generations: rows });
        else if (rows.length === 0) process.stdout.write(`no ${role} generations yet\n`);
        else {
          // The record keeps the positions a replay completed the generation at; a generation a node built as it
          // served has none. What a serving store has applied now is live state, not a record.
          printTable(rows.map(({ checkpoints, ...row }) => ({ ...row, completed_at: Object.keys(checkpoints).length > 0 ? checkpoints : '–' })));
          process.stdout.write('COMPLETED_AT: the stream positions a replay completed a generation at. What the serving generation has applied now: GET /v1/projections or `spanda verify`.\n');
        }
        return 0;
      }
      // gc: completed generations that do not serve (retired ones, and ready ones a replay built but did not switch to,
      // having lost the alias to another replay) beyond the `keep` newest go; the active one and the rollback target
      // always stay. With --building, so do generations a failed or stopped replay left unfinished (the next replay of
      // the same spec would resume one), unless a process still holds it.
      const protectedIds = new Set([alias?.generation, alias?.previous].filter((x): x is string => x !== undefined));
      const retired = records
        .filter((r) => (r.state === 'retired' || r.state === 'ready') && !protectedIds.has(r.id))
        .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
      const unfinished = ctx.values.building === true ? records.filter((r) => r.state === 'building' && !protectedIds.has(r.id)) : [];
      const doomed: typeof records = [];
      const busy: string[] = [];
      for (const r of [...retired.slice(keep), ...unfinished]) {
        // The lock a replay building it, or a node serving it, holds in this data dir (a store elsewhere is not seen).
        const lock = await lockFile(path.join(config.dataDir, role, `${r.id}.lock`), `generation ${r.id}`).catch((err: unknown) => {
          busy.push(`${r.id}: ${errorMessage(err)}`);
          return undefined;
        });
        if (!lock) continue;
        try {
          let dropped: unknown;
          try {
            const factory = role === INDEXING_ROLE ? await catalogStoreFactory(r.spec.store.kind) : await storeFactory(r.spec.store.kind);
            await factory.drop({ role, generation: r.id, config: storeConfigOf(config, role) });
          } catch (err) {
            dropped = err;
          }
          if (dropped !== undefined && r.state !== 'building') {
            // A generation that served may hold data worth keeping: only its record would go. Kept, and the others go on.
            busy.push(`${r.id}: its ${r.spec.store.kind} store could not be dropped (${errorMessage(dropped)})`);
            continue;
          }
          // One a failed replay left (often before its store existed, as with a store that is not configured): its record
          // goes whatever its store says, so it never blocks a gc or a replay again.
          if (dropped !== undefined) {
            process.stderr.write(`spanda: removed the record of ${r.id}; its ${r.spec.store.kind} store could not be dropped (${errorMessage(dropped)}): drop what it may have created there yourself\n`);
          }
          await generations.remove(role, r.id);
          doomed.push(r);
        } finally {
          await lock.release();
        }
      }
      for (const line of busy) process.stderr.write(`spanda: kept ${line}\n`);
      if (ctx.values.json) printJson({ removed: doomed.map((r) => r.id), kept: records.length - doomed.length });
      else {
        const left = ctx.values.building === true ? '' : records.filter((r) => r.state === 'building' && !protectedIds.has(r.id)).length;
        process.stdout.write(
          `removed ${doomed.length} generation(s)${doomed.length ? `: ${doomed.map((r) => r.id).join(', ')}` : ''}` +
            (left ? `; ${left} unfinished (building) kept: a replay of the same settings resumes one, \`--building\` removes them` : '') +
            '\n',
        );
      }
      return busy.length > 0 ? 1 : 0;
    } finally {
      await handle.drain();
    }
  },
};
