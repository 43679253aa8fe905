// A local fake Weaviate for tests: REST (node:http) and gRPC (nice-grpc with the client's own service definitions) on free ports.
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createGrpcServer, ServerError, Status } from 'nice-grpc';
import { healthService, weaviateService } from './grpc.ts';
import { loadDefinitions, type ServiceDefinition } from './proto.ts';
import { restHandler } from './rest.ts';
import { FakeWeaviateState } from './state.ts';

/** Every method of the definition: the fake's own, UNIMPLEMENTED for the rest (as a server that lacks a feature answers). */
function complete(definition: ServiceDefinition, implementation: object): Record<string, unknown> {
  const methods = Object.keys((definition.methods as Record<string, unknown> | undefined) ?? {});
  const out: Record<string, unknown> = { ...implementation };
  for (const name of methods) {
    if (typeof out[name] === 'function') continue;
    const definitionOf = (definition.methods as Record<string, { requestStream: boolean; responseStream: boolean }>)[name];
    out[name] = definitionOf?.responseStream
      ? async function* unimplemented() {
          yield* [];
          throw new ServerError(Status.UNIMPLEMENTED, `${name} is not implemented by the fake Weaviate`);
        }
      : async () => {
          throw new ServerError(Status.UNIMPLEMENTED, `${name} is not implemented by the fake Weaviate`);
        };
  }
  return out;
}

export interface FakeWeaviate {
  /** REST endpoint, e.g. http://127.0.0.1:PORT */
  readonly url: string;
  /** gRPC endpoint, e.g. 127.0.0.1:PORT */
  readonly grpcUrl: string;
  readonly state: FakeWeaviateState;
  close(): Promise<void>;
}

export async function startFakeWeaviate(): Promise<FakeWeaviate> {
  const state = new FakeWeaviateState();
  const definitions = await loadDefinitions();
  const grpc = createGrpcServer();
  grpc.add(definitions.weaviate as never, complete(definitions.weaviate, weaviateService(state)) as never);
  grpc.add(definitions.health as never, complete(definitions.health, healthService) as never);
  const grpcPort = await grpc.listen('127.0.0.1:0');

  const http: Server = createHttpServer((req, res) => void restHandler(state)(req, res));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    grpcUrl: `127.0.0.1:${grpcPort}`,
    state,
    async close() {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await grpc.shutdown();
    },
  };
}
