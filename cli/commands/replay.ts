// spanda replay: builds a new generation of a projection from the log beside the live one, verifies it, swaps the alias.
import { silentLogger } from '../../lib/log.ts';
import { INDEXING_ROLE, replayCatalog } from '../../projections/catalog-serving.ts';
import type { BuildTarget, Generations } from '../../projections/generations.ts';
import { replayGeneration } from '../../projections/replay.ts';
import { fusionProfileFor } from '../../processors/embedder/models.ts';
import { provision } from '../../streams/provision.ts';
import { configFrom, connectFrom, stringFlag } from '../env.ts';
import { chunkerSettings, generationRuntime, INFERENCE_ROLE, inferenceSpec, modelInfoOf, storeConfigOf } from '../inference-runtime.ts';
import type { Command } from '../main.ts';
import { UsageError, printJson } from '../output.ts';
import { progressReporter } from '../progress.ts';

/** "built in 4.2 s", saying so when the replay continued a generation an earlier one left unfinished. */
const builtIn = (result: { ms: number; resumed: boolean }): string =>
  `built in ${(result.ms / 1000).toFixed(1)} s${result.resumed ? ' (resumed where an earlier replay stopped)' : ''}`;

export const replayCommand: Command = {
  usage:
    'spanda replay --projection inference|indexing [--model M] [--store sqlite|weaviate|qdrant (indexing: sqlite|weaviate)] [--from-seq N] [--no-verify] [--json] [--nats-url URL] [--data-dir DIR]',
  options: {
    projection: { type: 'string' },
    model: { type: 'string' },
    store: { type: 'string' },
    'from-seq': { type: 'string' },
    'no-verify': { type: 'boolean' },
    'data-dir': { type: 'string' },
    'chunk-size': { type: 'string' },
    'chunk-overlap': { type: 'string' },
    'vector-weight': { type: 'string' },
  },
  async run(ctx) {
    const projection = stringFlag(ctx, 'projection') ?? INFERENCE_ROLE;
    if (projection !== INFERENCE_ROLE && projection !== INDEXING_ROLE) {
      throw new UsageError(`--projection must be inference or indexing, got ${JSON.stringify(projection)}\nusage: ${this.usage}`);
    }
    const fromSeqText = stringFlag(ctx, 'from-seq');
    const fromSeq = fromSeqText === undefined ? undefined : Number(fromSeqText);
    if (fromSeq !== undefined && (!Number.isSafeInteger(fromSeq) || fromSeq < 1)) throw new UsageError(`--from-seq must be a positive integer\nusage: ${this.usage}`);
    if (projection === INDEXING_ROLE && (stringFlag(ctx, 'model') !== undefined || fromSeq !== undefined)) {
      throw new UsageError(`--model and --from-seq apply to the inference projection; the catalog holds no vectors and is rebuilt from the whole log\nusage: ${this.usage}`);
    }
    const config = configFrom(ctx);
    const handle = await connectFrom(ctx);
    const bar = progressReporter(ctx.values.json === true);
    // Which generation this run builds: one a failure leaves building can be resumed.
    let target: BuildTarget | undefined;
    let generations: Generations | undefined;
    const onTarget = (t: BuildTarget): void => {
      target = t;
      if (t.resumed) process.stderr.write(`resuming generation ${t.id}, which an earlier replay left unfinished\n`);
    };
    try {
      const { kv } = await provision(handle);
      const runtime = generationRuntime(handle, kv, config, [], silentLogger);
      generations = runtime.generations;
      if (projection === INDEXING_ROLE) {
        const activeCatalog = (await runtime.generations.alias(INDEXING_ROLE)).alias;
        const catalogRecord = activeCatalog ? await runtime.generations.get(INDEXING_ROLE, activeCatalog.generation) : undefined;
        const result = await replayCatalog(handle, runtime.generations, storeConfigOf(config, INDEXING_ROLE), {
          kind: stringFlag(ctx, 'store') ?? catalogRecord?.spec.store.kind ?? config.catalogStore,
          verify: ctx.values['no-verify'] !== true,
          onProgress: (applied, total) => bar.update('project', applied, total),
          onTarget,
        });
        bar.finish();
        if (ctx.values.json) printJson({ status: 'swapped', projection, ...result });
        else process.stdout.write(`catalog generation ${result.generation} ${builtIn(result)}${result.verified ? ', digest verified against the log' : ''}; alias.indexing now points at it\n`);
        return 0;
      }
      const active = (await runtime.generations.alias(INFERENCE_ROLE)).alias;
      const activeRecord = active ? await runtime.generations.get(INFERENCE_ROLE, active.generation) : undefined;
      const modelName = stringFlag(ctx, 'model');
      const model = modelName !== undefined ? modelInfoOf(modelName) : (activeRecord?.spec.model ?? modelInfoOf(config.embedder));
      const spec = await inferenceSpec(config, model, stringFlag(ctx, 'store') ?? activeRecord?.spec.store.kind ?? config.store);
      const vectorWeight = config.vectorWeight ?? fusionProfileFor(model.id)?.vectorWeight ?? 0.5;
      const result = await replayGeneration(runtime, spec, {
        vectorWeight,
        chunkerSettings: chunkerSettings(config),
        verify: ctx.values['no-verify'] !== true,
        ...(fromSeq !== undefined ? { fromSeq } : {}),
        onProgress: (p) => bar.update(p.slice === undefined ? p.phase : `${p.phase} ${p.slice}`, p.applied, p.total),
        onTarget,
      });
      bar.finish();
      if (ctx.values.json) printJson({ status: 'swapped', ...result });
      else {
        process.stdout.write(
          `generation ${result.generation} (${result.model}, ${result.store}) ${builtIn(result)}, ` +
            `${result.verified ? 'digest verified against the log' : 'not verified'}; the ${INFERENCE_ROLE} alias now points at it` +
            `${result.previous ? ` (was ${result.previous}; \`spanda projections rollback\` goes back)` : ''}\n`,
        );
      }
      return 0;
    } catch (err) {
      bar.finish();
      const left = target && (await generations?.get(projection, target.id).catch(() => undefined));
      if (target && left?.state === 'building') {
        process.stderr.write(
          `generation ${target.id} is left unfinished: \`spanda replay\` with the same settings resumes it where it stopped; \`spanda projections gc --building\` drops it\n`,
        );
      }
      throw err;
    } finally {
      bar.finish();
      await handle.drain();
    }
  },
};
