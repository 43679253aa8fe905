// The gRPC service definitions weaviate-client ships (ts-proto, for nice-grpc) and the message shapes the fake reads and writes.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/*
 * weaviate-client has no .proto files, only the generated ts-proto modules (dist/node/esm/proto), and its package
 * exports do not expose them; they are loaded here by file path next to the package's resolved entry point, so the
 * fake speaks exactly the wire protocol of the client version installed.
 */
const entry = createRequire(import.meta.url).resolve('weaviate-client');
const protoDir = path.join(path.dirname(entry), '..', 'esm', 'proto');
const load = async (file: string): Promise<Record<string, unknown>> => (await import(pathToFileURL(path.join(protoDir, file)).href)) as Record<string, unknown>;

/** A nice-grpc service definition (opaque here: it is handed to nice-grpc's server as it is). */
export type ServiceDefinition = Record<string, unknown>;

export async function loadDefinitions(): Promise<{ weaviate: ServiceDefinition; health: ServiceDefinition }> {
  const [weaviate, health] = await Promise.all([load('v1/weaviate.js'), load('google/health/v1/health.js')]);
  return { weaviate: weaviate.WeaviateDefinition as ServiceDefinition, health: health.HealthDefinition as ServiceDefinition };
}

// Enum values from the protos (weaviate/v1/base.proto, base_search.proto, tenants.proto; grpc/health/v1/health.proto).
export const Op = {
  EQUAL: 1,
  NOT_EQUAL: 2,
  GREATER_THAN: 3,
  GREATER_THAN_EQUAL: 4,
  LESS_THAN: 5,
  LESS_THAN_EQUAL: 6,
  AND: 7,
  OR: 8,
  WITHIN_GEO_RANGE: 9,
  LIKE: 10,
  IS_NULL: 11,
  CONTAINS_ANY: 12,
  CONTAINS_ALL: 13,
  CONTAINS_NONE: 14,
  NOT: 15,
} as const;
export const VECTOR_TYPE_SINGLE_FP32 = 1;
export const VECTOR_TYPE_MULTI_FP32 = 2;
export const SEARCH_OPERATOR_AND = 2;
export const TENANT_ACTIVITY_STATUS_HOT = 1;
export const HEALTH_SERVING = 1;

// The parts of the messages the fake uses (field names as ts-proto decodes them).
export interface Filters {
  operator: number;
  on: string[];
  filters: Filters[];
  valueText?: string | undefined;
  valueInt?: number | undefined;
  valueBoolean?: boolean | undefined;
  valueNumber?: number | undefined;
  valueTextArray?: { values: string[] } | undefined;
  valueIntArray?: { values: number[] } | undefined;
  valueBooleanArray?: { values: boolean[] } | undefined;
  valueNumberArray?: { values: number[] } | undefined;
  target?: { property?: string | undefined } | undefined;
}

export interface VectorsMessage {
  name: string;
  index: number;
  vectorBytes: Uint8Array;
  type: number;
}

export interface NearVector {
  vector: number[];
  certainty?: number | undefined;
  distance?: number | undefined;
  vectorBytes: Uint8Array;
  targetVectors: string[];
  targets?: { targetVectors: string[] } | undefined;
  vectorForTargets: Array<{ name: string; vectorBytes: Uint8Array; vectors: VectorsMessage[] }>;
  vectors: VectorsMessage[];
}

export interface SearchRequest {
  collection: string;
  tenant: string;
  properties?: { nonRefProperties: string[]; returnAllNonrefProperties: boolean } | undefined;
  metadata?: { uuid: boolean; vector: boolean; distance: boolean; certainty: boolean; score: boolean; vectors: string[] } | undefined;
  limit: number;
  offset: number;
  autocut: number;
  after: string;
  sortBy: unknown[];
  filters?: Filters | undefined;
  hybridSearch?: unknown;
  bm25Search?: { query: string; properties: string[]; searchOperator?: { operator: number; minimumOrTokensMatch?: number | undefined } | undefined } | undefined;
  nearVector?: NearVector | undefined;
  nearObject?: unknown;
  nearText?: unknown;
  groupBy?: unknown;
}

export interface Value {
  numberValue?: number;
  boolValue?: boolean;
  intValue?: number;
  textValue?: string;
  listValue?: { textValues?: { values: string[] }; intValues?: { values: Uint8Array }; numberValues?: { values: Uint8Array }; boolValues?: { values: boolean[] } };
}

export interface SearchResult {
  properties: { nonRefProps: { fields: Record<string, Value> }; refProps: never[]; targetCollection: string; refPropsRequested: boolean };
  metadata: Record<string, unknown>;
}

export interface BatchObject {
  uuid: string;
  vector: number[];
  properties?:
    | {
        nonRefProperties?: Record<string, unknown> | undefined;
        textArrayProperties: Array<{ propName: string; values: string[] }>;
        intArrayProperties: Array<{ propName: string; values: number[] }>;
        numberArrayProperties: Array<{ propName: string; values: number[]; valuesBytes: Uint8Array }>;
        booleanArrayProperties: Array<{ propName: string; values: boolean[] }>;
        objectProperties: unknown[];
        objectArrayProperties: unknown[];
        singleTargetRefProps: unknown[];
        multiTargetRefProps: unknown[];
        emptyListProps: string[];
      }
    | undefined;
  collection: string;
  tenant: string;
  vectorBytes: Uint8Array;
  vectors: VectorsMessage[];
}

export interface BatchDeleteRequest {
  collection: string;
  filters?: Filters | undefined;
  verbose: boolean;
  dryRun: boolean;
  tenant?: string | undefined;
}
