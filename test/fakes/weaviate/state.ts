// The fake Weaviate's data: classes (as the REST schema defines them), tenants, objects, aliases, and Weaviate's tokenizers.
export type PropertyValue = string | number | boolean | string[] | number[] | boolean[];

export interface PropertyDef {
  readonly name: string;
  readonly dataType: string;
  readonly tokenization: string;
  readonly indexFilterable: boolean;
  readonly indexSearchable: boolean;
}

export interface StoredObject {
  readonly uuid: string;
  readonly properties: Readonly<Record<string, PropertyValue>>;
  /** Named vectors ("default" for a legacy unnamed vector). */
  readonly vectors: ReadonlyMap<string, Float32Array>;
  readonly created: number;
}

export interface ClassState {
  /** The class definition as Weaviate returns it from GET /v1/schema (defaults filled in). */
  readonly schema: Record<string, unknown>;
  readonly name: string;
  readonly multiTenant: boolean;
  readonly properties: Map<string, PropertyDef>;
  readonly vectorNames: readonly string[];
  readonly stopwords: ReadonlySet<string>;
  readonly bm25: { readonly k1: number; readonly b: number };
  /** Shards: tenant name → objects by uuid ("" for a class without multi-tenancy). Map order is insertion order. */
  readonly shards: Map<string, Map<string, StoredObject>>;
}

/** How tenants are listed over REST (all of the fake's tenants are active). */
export const TENANT_ACTIVITY_STATUS = 'ACTIVE';

export class FakeError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

// Weaviate's "en" stopword preset (a subset; the fake's users set preset "none").
const EN_STOPWORDS = new Set(['a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it', 'no', 'not', 'of', 'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these', 'they', 'this', 'to', 'was', 'will', 'with']);

/** Weaviate's tokenizations for text properties (docs: "Tokenization"). */
export function tokenize(text: string, tokenization: string): string[] {
  switch (tokenization) {
    case 'field': {
      const t = text.trim();
      return t.length > 0 ? [t] : [];
    }
    case 'whitespace':
      return text.split(/\s+/).filter((t) => t.length > 0);
    case 'lowercase':
      return text.toLowerCase().split(/\s+/).filter((t) => t.length > 0);
    case 'word':
      return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((t) => t.length > 0);
    default:
      throw new FakeError(422, `tokenization ${tokenization} is not supported by the fake`);
  }
}

const CLASS_NAME = /^[A-Z][_0-9A-Za-z]*$/;
const TENANT_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export class FakeWeaviateState {
  readonly classes = new Map<string, ClassState>();
  /** alias → class */
  readonly aliases = new Map<string, string>();
  /** Fault injection for tests: when it returns true for a BatchObjects call's class, the call fails (INTERNAL). */
  failBatchObjects: ((className: string) => boolean) | undefined;
  private clock = 0;

  now(): number {
    return Date.now() * 1000 + (this.clock++ % 1000);
  }

  /** A class by name or alias (queries may address a collection through its alias). */
  resolve(name: string): ClassState {
    const target = this.aliases.get(name) ?? name;
    const c = this.classes.get(target);
    if (!c) throw new FakeError(404, `class ${name} does not exist`);
    return c;
  }

  createClass(body: Record<string, unknown>): ClassState {
    const name = String(body.class ?? '');
    if (!CLASS_NAME.test(name)) throw new FakeError(422, `'${name}' is not a valid class name`);
    if (this.classes.has(name) || this.aliases.has(name)) throw new FakeError(422, `class name ${name} already exists`);
    const properties = new Map<string, PropertyDef>();
    const schemaProps: Array<Record<string, unknown>> = [];
    for (const raw of (body.properties as Array<Record<string, unknown>> | undefined) ?? []) {
      const dataType = ((raw.dataType as string[] | undefined) ?? [])[0] ?? '';
      if (!['text', 'text[]', 'int', 'int[]', 'number', 'number[]', 'boolean', 'boolean[]'].includes(dataType)) {
        throw new FakeError(422, `property ${String(raw.name)}: data type ${dataType} is not supported by the fake`);
      }
      const isText = dataType.startsWith('text');
      const def: PropertyDef = {
        name: String(raw.name),
        dataType,
        tokenization: isText ? String(raw.tokenization ?? 'word') : '',
        indexFilterable: raw.indexFilterable !== false,
        indexSearchable: isText && raw.indexSearchable !== false,
      };
      if (isText) tokenize('x', def.tokenization);
      properties.set(def.name, def);
      schemaProps.push({ ...raw, dataType: [dataType], ...(isText ? { tokenization: def.tokenization } : {}), indexFilterable: def.indexFilterable, indexSearchable: def.indexSearchable });
    }
    const mt = body.multiTenancyConfig as { enabled?: boolean } | undefined;
    const inverted = (body.invertedIndexConfig as { stopwords?: { preset?: string }; bm25?: { k1?: number; b?: number } } | undefined) ?? {};
    const preset = inverted.stopwords?.preset ?? 'en';
    const vectorConfig = (body.vectorConfig as Record<string, unknown> | undefined) ?? {};
    const vectorNames = Object.keys(vectorConfig).length > 0 ? Object.keys(vectorConfig) : ['default'];
    const state: ClassState = {
      schema: {
        ...body,
        properties: schemaProps,
        multiTenancyConfig: { enabled: mt?.enabled === true, autoTenantCreation: false, autoTenantActivation: false },
        invertedIndexConfig: { ...inverted, stopwords: { preset, additions: null, removals: null }, bm25: { k1: inverted.bm25?.k1 ?? 1.2, b: inverted.bm25?.b ?? 0.75 } },
      },
      name,
      multiTenant: mt?.enabled === true,
      properties,
      vectorNames,
      stopwords: preset === 'none' ? new Set() : EN_STOPWORDS,
      bm25: { k1: inverted.bm25?.k1 ?? 1.2, b: inverted.bm25?.b ?? 0.75 },
      shards: new Map(mt?.enabled === true ? [] : [['', new Map()]]),
    };
    this.classes.set(name, state);
    return state;
  }

  deleteClass(name: string): void {
    this.classes.delete(name);
    for (const [alias, target] of this.aliases) if (target === name) this.aliases.delete(alias);
  }

  addTenants(c: ClassState, names: readonly string[]): void {
    if (!c.multiTenant) throw new FakeError(422, `class ${c.name} has multi-tenancy disabled`);
    for (const name of names) {
      if (!TENANT_NAME.test(name)) throw new FakeError(422, `tenant name ${JSON.stringify(name)} is invalid`);
      if (!c.shards.has(name)) c.shards.set(name, new Map());
    }
  }

  /** The shard a request addresses: a tenant for a multi-tenant class (required), the single shard otherwise. */
  shard(c: ClassState, tenant: string | undefined): Map<string, StoredObject> {
    if (c.multiTenant) {
      if (!tenant) throw new FakeError(422, `class ${c.name} has multi-tenancy enabled, but request was without tenant`);
      const shard = c.shards.get(tenant);
      if (!shard) throw new FakeError(422, `tenant not found: "${tenant}"`);
      return shard;
    }
    if (tenant) throw new FakeError(422, `class ${c.name} has multi-tenancy disabled, but request was with tenant`);
    return c.shards.get('') as Map<string, StoredObject>;
  }
}
