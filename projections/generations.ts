// Projection generations: ids derived from what changes the content, their records and the role alias in NATS KV (CAS).
import type { KV } from '@nats-io/kv';
import { ConfigError, UnavailableError, errorMessage } from '../lib/errors.ts';
import { chunkerFingerprint } from '../streams/events/index.ts';
import { canonicalJson, sha256Hex } from '../streams/ids.ts';
import { CONFIG_BUCKET } from '../streams/provision.ts';

export const GENERATION_STATES = ['building', 'ready', 'active', 'retired'] as const;
export type GenerationState = (typeof GENERATION_STATES)[number];

/** Everything that changes a generation's content; its hash is the generation id. */
export interface GenerationSpec {
  readonly role: string;
  readonly projection: { readonly name: string; readonly version: number };
  readonly store: { readonly kind: string; readonly schemaVersion: number };
  readonly model: { readonly id: string; readonly dims: number; readonly embedderVersion: number };
  /** Fingerprint of the chunker settings whose chunks the generation serves (see chunkerFingerprint). */
  readonly chunker: string;
}

export interface GenerationRecord {
  readonly id: string;
  readonly spec: GenerationSpec;
  readonly state: GenerationState;
  /** Hybrid fusion weight of the generation's model: the fusion profile travels with the generation. */
  readonly vectorWeight: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Log positions the generation had applied when it was last checkpointed here (on ready/active). */
  readonly checkpoints?: Readonly<Record<string, number>>;
  readonly digest?: string;
  /** Who built it (host and pid), for `spanda projections list`. */
  readonly builtBy?: string;
  /** The chunker settings behind `spec.chunker`, so a node can keep chunking for this generation while it serves. */
  readonly chunkerSettings?: { readonly name: string; readonly version: number; readonly size: number; readonly overlap: number };
  /** The sequence every slice started at when a replay built it from part of the log (`spanda replay --from-seq`). */
  readonly fromSeq?: number;
}

export interface AliasRecord {
  readonly generation: string;
  /** The generation it pointed at before, for rollback. */
  readonly previous?: string;
  readonly switchedAt: string;
}

export { chunkerFingerprint };

/** `<model>-<hash>`: readable in `nats kv ls`, and equal for equal specs on every node. */
export function generationId(spec: GenerationSpec): string {
  // The catalog holds no vectors: its generations are named after the projection.
  const prefix = spec.model.dims > 0 ? spec.model.id : spec.projection.name;
  return `${prefix}-${sha256Hex(canonicalJson(spec)).slice(0, 10)}`;
}

export const generationKey = (role: string, id: string): string => `gen.${role}.${id}`;

export const aliasKey = (role: string): string => `alias.${role}`;

/** What a replay builds: a generation id, and whether it continues one an earlier replay left unfinished. */
export interface BuildTarget {
  readonly id: string;
  readonly resumed: boolean;
}

/**
 * The generation a replay of `spec` builds. Its own id when no generation has it yet, or when a stopped replay left it
 * building (resumed from its checkpoints). A kept generation of the same spec makes the replay a rebuild under an id of
 * its own (`<id>-r<time>`): then the newest unfinished rebuild no live process holds (`heldBy`, its lock file) is
 * resumed, so a rebuild killed mid-way also continues where it stopped instead of starting over beside the leftover.
 */
export async function generationToBuild(
  generations: Generations,
  spec: GenerationSpec,
  heldBy: (id: string) => Promise<number | undefined>,
  /** Where the replay starts its slices (`--from-seq`): only a build that started at the same place is resumed. */
  fromSeq?: number,
): Promise<BuildTarget> {
  const id = generationId(spec);
  const resume = (g: GenerationRecord): BuildTarget => {
    if (g.fromSeq !== fromSeq) {
      const started = (n: number | undefined) => (n === undefined ? 'the whole log' : `the log from sequence ${n} (--from-seq ${n})`);
      throw new ConfigError(
        `generation ${g.id} was left unfinished by a replay of ${started(g.fromSeq)}, not ${started(fromSeq)}: ` +
          `replay with ${g.fromSeq === undefined ? 'no --from-seq' : `--from-seq ${g.fromSeq}`} to resume it, or drop it first with \`spanda projections gc --building\``,
      );
    }
    return { id: g.id, resumed: true };
  };
  const held = await generations.get(spec.role, id);
  if (!held) return { id, resumed: false };
  if (held.state === 'building') return resume(held);
  const isRebuild = (other: string) => other.startsWith(`${id}-r`) && /^[0-9a-z]+$/.test(other.slice(id.length + 2));
  const unfinished = (await generations.list(spec.role))
    .filter((g) => g.state === 'building' && isRebuild(g.id))
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  for (const g of unfinished) if ((await heldBy(g.id)) === undefined) return resume(g);
  return { id: `${id}-r${Date.now().toString(36)}`, resumed: false };
}

/** What makes `value` not a generation record named `id`, or undefined (the fields every reader relies on). */
function recordProblem(value: unknown, id: string): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const r = value as Record<string, unknown>;
  if (r.id !== id) return `its id is ${JSON.stringify(r.id)}, not ${JSON.stringify(id)}`;
  if (!(GENERATION_STATES as readonly unknown[]).includes(r.state)) return `state ${JSON.stringify(r.state)} is none of ${GENERATION_STATES.join(', ')}`;
  for (const field of ['createdAt', 'updatedAt'] as const) if (typeof r[field] !== 'string') return `no ${field}`;
  if (typeof r.vectorWeight !== 'number') return 'no vectorWeight';
  const spec = r.spec as Record<string, unknown> | undefined;
  if (spec === null || typeof spec !== 'object') return 'no spec';
  const model = spec.model as Record<string, unknown> | undefined;
  const store = spec.store as Record<string, unknown> | undefined;
  if (typeof spec.role !== 'string' || typeof spec.chunker !== 'string') return 'its spec has no role or chunker';
  if (model === null || typeof model !== 'object' || typeof model.id !== 'string' || typeof model.dims !== 'number') return 'its spec has no model id and dims';
  if (store === null || typeof store !== 'object' || typeof store.kind !== 'string') return 'its spec has no store kind';
  return undefined;
}

function decode<T>(bytes: Uint8Array | undefined, what: string): T | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (err) {
    throw new ConfigError(`${what} in the KV bucket is not valid JSON (${errorMessage(err)}); fix or delete the key with the NATS CLI`);
  }
}

const encode = (value: unknown): string => JSON.stringify(value);

/** Generation records and the role alias, every change a compare-and-set on the KV revision. */
export class Generations {
  constructor(private readonly kv: KV) {}

  async get(role: string, id: string): Promise<GenerationRecord | undefined> {
    const entry = await this.kv.get(generationKey(role, id));
    if (!entry || entry.operation !== 'PUT') return undefined;
    let record: unknown;
    let problem: string | undefined;
    try {
      record = decode<unknown>(entry.value, `generation ${id}`);
      problem = recordProblem(record, id);
    } catch {
      problem = 'not valid JSON';
    }
    if (problem !== undefined) {
      throw new ConfigError(
        `the KV bucket ${CONFIG_BUCKET} holds ${generationKey(role, id)} but it is not a generation record (${problem}); \`spanda projections gc --building\` removes it`,
      );
    }
    return record as GenerationRecord;
  }

  /** The role's generation records, oldest first; keys that hold no readable record are skipped (see listAll). */
  async list(role: string): Promise<GenerationRecord[]> {
    return (await this.listAll(role)).records;
  }

  /** The records, and the keys under gen.<role>. that hold no generation record (written by hand or by something else) with why. */
  async listAll(role: string): Promise<{ records: GenerationRecord[]; invalid: Array<{ id: string; problem: string }> }> {
    const keys: string[] = [];
    for await (const key of await this.kv.keys(`gen.${role}.>`)) keys.push(key);
    const records: GenerationRecord[] = [];
    const invalid: Array<{ id: string; problem: string }> = [];
    for (const key of keys) {
      const id = key.slice(`gen.${role}.`.length);
      try {
        const record = await this.get(role, id);
        if (record) records.push(record);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        invalid.push({ id, problem: errorMessage(err) });
      }
    }
    return { records: records.sort((a, b) => a.createdAt.localeCompare(b.createdAt)), invalid };
  }

  /** Creates the record, or returns the existing one for the same spec (a generation id names its content). */
  async ensure(
    spec: GenerationSpec,
    vectorWeight: number,
    builtBy?: string,
    id = generationId(spec),
    chunkerSettings?: GenerationRecord['chunkerSettings'],
    fromSeq?: number,
  ): Promise<GenerationRecord> {
    const held = await this.get(spec.role, id);
    if (held) return held;
    const now = new Date().toISOString();
    const record: GenerationRecord = {
      id,
      spec,
      state: 'building',
      vectorWeight,
      createdAt: now,
      updatedAt: now,
      ...(builtBy ? { builtBy } : {}),
      ...(chunkerSettings ? { chunkerSettings } : {}),
      ...(fromSeq !== undefined ? { fromSeq } : {}),
    };
    try {
      await this.kv.create(generationKey(spec.role, id), encode(record));
      return record;
    } catch {
      // Created by another process in between: theirs is the same generation.
      const other = await this.get(spec.role, id);
      if (other) return other;
      throw new UnavailableError(`cannot create generation ${id} in the KV bucket; retry`);
    }
  }

  /** Updates a record with `change`, retrying on concurrent writers. */
  async update(role: string, id: string, change: (record: GenerationRecord) => GenerationRecord): Promise<GenerationRecord> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const entry = await this.kv.get(generationKey(role, id));
      const record = entry && entry.operation === 'PUT' ? decode<GenerationRecord>(entry.value, `generation ${id}`) : undefined;
      if (!entry || !record) throw new ConfigError(`no generation ${id} for the ${role} projection; see \`spanda projections list\``);
      const next = { ...change(record), updatedAt: new Date().toISOString() };
      try {
        await this.kv.update(generationKey(role, id), encode(next), entry.revision);
        return next;
      } catch {
        // Someone else wrote in between: read again and re-apply the change.
      }
    }
    throw new UnavailableError(`generation ${id} kept changing under us; retry`);
  }

  async remove(role: string, id: string): Promise<void> {
    await this.kv.delete(generationKey(role, id));
  }

  /** The active generation of a role and the KV revision to compare-and-set against (0 when none was ever set). */
  async alias(role: string): Promise<{ alias: AliasRecord | undefined; revision: number }> {
    const entry = await this.kv.get(aliasKey(role));
    if (!entry || entry.operation !== 'PUT') return { alias: undefined, revision: entry?.revision ?? 0 };
    return { alias: decode<AliasRecord>(entry.value, `alias of ${role}`), revision: entry.revision };
  }

  /**
   * Points the role's alias at `id` if it still is what the caller read (`expectedRevision`), so two replays can
   * never both win. Marks the new generation active and the one it replaces retired (kept for rollback).
   */
  async switchAlias(role: string, id: string, expectedRevision: number): Promise<AliasRecord> {
    const current = await this.alias(role);
    if (current.revision !== expectedRevision) {
      throw new ConfigError(
        `the ${role} alias changed while this command ran (now ${current.alias?.generation ?? 'unset'}); run it again to build on the new state`,
      );
    }
    const previous = current.alias?.generation;
    const next: AliasRecord = { generation: id, ...(previous !== undefined && previous !== id ? { previous } : {}), switchedAt: new Date().toISOString() };
    try {
      if (expectedRevision === 0) await this.kv.create(aliasKey(role), encode(next));
      else await this.kv.update(aliasKey(role), encode(next), expectedRevision);
    } catch (err) {
      throw new ConfigError(`another process switched the ${role} alias at the same moment (${errorMessage(err)}); run the command again`);
    }
    await this.update(role, id, (r) => ({ ...r, state: 'active' }));
    if (previous !== undefined && previous !== id) {
      await this.update(role, previous, (r) => ({ ...r, state: 'retired' })).catch(() => undefined);
    }
    return next;
  }

  /**
   * Calls `onChange` with the alias now and on every change until the returned stop is called. A KV watch ends when
   * the connection drops; it is reopened so a node keeps following.
   */
  async watchAlias(role: string, onChange: (alias: AliasRecord) => void, onError: (err: unknown) => void = () => undefined): Promise<() => void> {
    let stopped = false;
    let iterator: { stop(): void } | undefined;
    const run = async (): Promise<void> => {
      while (!stopped) {
        try {
          const watch = await this.kv.watch({ key: aliasKey(role) });
          iterator = watch;
          for await (const entry of watch) {
            if (stopped) break;
            if (entry.operation !== 'PUT') continue;
            const alias = decode<AliasRecord>(entry.value, `alias of ${role}`);
            if (alias) onChange(alias);
          }
        } catch (err) {
          if (!stopped) onError(err);
        }
        if (!stopped) await new Promise((r) => setTimeout(r, 1000));
      }
    };
    void run();
    return () => {
      stopped = true;
      iterator?.stop();
    };
  }
}

/** The record of the role's active generation, or undefined when the role has none yet. */
export async function activeRecord(generations: Generations, role: string): Promise<GenerationRecord | undefined> {
  const { alias } = await generations.alias(role);
  return alias ? generations.get(role, alias.generation) : undefined;
}
