// Connecting to Weaviate from StoreConfig.weaviate: the REST URL, an optional gRPC URL (default: same host, port 50051), an API key.
import weaviate, { type WeaviateClient } from 'weaviate-client';
import { ConfigError, errorMessageWithCauses, UnavailableError } from '../../../lib/errors.ts';

export interface WeaviateConfig {
  /** REST endpoint, e.g. http://localhost:8080 (a path is kept: http://proxy/weaviate). */
  readonly url: string;
  /** gRPC endpoint, e.g. localhost:50051 or https://grpc.example.com; default: the REST host on port 50051. */
  readonly grpcUrl?: string;
  readonly apiKey?: string;
}

interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly path: string;
}

function endpoint(raw: string, what: string, defaultPort: (secure: boolean) => number): Endpoint {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new ConfigError(`weaviate ${what} ${JSON.stringify(raw)} is not a URL (e.g. http://localhost:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`weaviate ${what} must be http(s), got ${url.protocol}`);
  const secure = url.protocol === 'https:';
  const path = url.pathname.replace(/\/+$/, '');
  return { host: url.hostname, port: url.port ? Number(url.port) : defaultPort(secure), secure, path };
}

/** The REST and gRPC endpoints a config names (exported for tests and error messages). */
export function endpoints(config: WeaviateConfig): { rest: Endpoint; grpc: Endpoint } {
  const rest = endpoint(config.url, 'url', (secure) => (secure ? 443 : 8080));
  const grpc = config.grpcUrl
    ? endpoint(config.grpcUrl, 'grpcUrl', (secure) => (secure ? 443 : 50051))
    : { host: rest.host, port: 50051, secure: rest.secure, path: '' };
  return { rest, grpc };
}

export async function connectWeaviate(config: WeaviateConfig): Promise<WeaviateClient> {
  const { rest, grpc } = endpoints(config);
  const where = `${rest.secure ? 'https' : 'http'}://${rest.host}:${rest.port}${rest.path} (gRPC ${grpc.host}:${grpc.port})`;
  return connect(rest, grpc, config.apiKey).catch((err: unknown) => {
    // The client says "Weaviate startup failed with message: Weaviate failed to startup with message: fetch failed".
    const reason = errorMessageWithCauses(err).replace(/^(Weaviate (startup failed|failed to startup) with message: )+/g, '').replace(/Weaviate (startup failed|failed to startup) with message: /g, '');
    throw new UnavailableError(`cannot reach Weaviate at ${where}: ${reason}; check that it runs and that WEAVIATE_URL (and WEAVIATE_GRPC_URL, or the role's SPANDA_WEAVIATE_URL_*) name it`, 5, { cause: err });
  });
}

function connect(rest: Endpoint, grpc: Endpoint, apiKey: string | undefined): Promise<WeaviateClient> {
  return weaviate.connectToCustom({
    httpHost: rest.host,
    httpPort: rest.port,
    httpSecure: rest.secure,
    ...(rest.path ? { httpPath: rest.path } : {}),
    grpcHost: grpc.host,
    grpcPort: grpc.port,
    grpcSecure: grpc.secure,
    ...(apiKey ? { authCredentials: new weaviate.ApiKey(apiKey) } : {}),
    timeout: { init: 10, query: 60, insert: 120 },
  });
}
