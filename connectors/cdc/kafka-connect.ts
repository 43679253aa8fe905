// A small Kafka Connect REST client: validate a connector config, create or update it, and wait for it to run.
import { ConfigError, UnavailableError, ValidationError, errorMessage } from '../../lib/errors.ts';
import type { ConnectConnector } from './debezium-config.ts';

interface ValidateResponse {
  readonly name: string;
  readonly error_count: number;
  readonly configs: ReadonlyArray<{ readonly value: { readonly name: string; readonly errors: readonly string[] } }>;
}

export interface ConnectorStatus {
  readonly name: string;
  readonly connector: { readonly state: string; readonly worker_id?: string; readonly trace?: string };
  readonly tasks: ReadonlyArray<{ readonly id: number; readonly state: string; readonly worker_id?: string; readonly trace?: string }>;
}

export interface RegisterResult {
  readonly created: boolean;
  readonly status: ConnectorStatus;
}

async function call<T>(base: string, method: string, route: string, body?: unknown): Promise<{ status: number; json: T }> {
  const url = `${base.replace(/\/+$/, '')}${route}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new UnavailableError(`cannot reach Kafka Connect at ${base}: ${errorMessage(err)}`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    json = { message: text };
  }
  if (res.status >= 400) {
    const message = typeof json === 'object' && json !== null && 'message' in json ? String((json as { message: unknown }).message) : text;
    const error = `Kafka Connect answered ${method} ${route} with ${res.status}: ${message}`;
    if (res.status >= 500 || res.status === 409) throw new UnavailableError(error);
    throw new ConfigError(error);
  }
  return { status: res.status, json: json as T };
}

/** PUT /connector-plugins/{class}/config/validate: throws a ValidationError listing each bad key with Connect's reason. */
export async function validateConnector(connectUrl: string, connector: ConnectConnector): Promise<void> {
  const cls = connector.config['connector.class'] ?? '';
  const { json } = await call<ValidateResponse>(connectUrl, 'PUT', `/connector-plugins/${encodeURIComponent(cls)}/config/validate`, connector.config);
  if (json.error_count > 0) {
    const issues = json.configs.flatMap((c) => c.value.errors.map((e) => `${c.value.name}: ${e}`));
    throw new ValidationError(`Kafka Connect refused the ${connector.name} config: ${issues.join('; ')}`, issues);
  }
}

export async function connectorStatus(connectUrl: string, name: string): Promise<ConnectorStatus> {
  return (await call<ConnectorStatus>(connectUrl, 'GET', `/connectors/${encodeURIComponent(name)}/status`)).json;
}

/** Validates, creates or updates (PUT /connectors/{name}/config), then waits until the connector and its tasks run. */
export async function registerConnector(connectUrl: string, connector: ConnectConnector, options: { timeoutMs?: number } = {}): Promise<RegisterResult> {
  await validateConnector(connectUrl, connector);
  const put = await call<unknown>(connectUrl, 'PUT', `/connectors/${encodeURIComponent(connector.name)}/config`, connector.config);
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    let status: ConnectorStatus | undefined;
    try {
      status = await connectorStatus(connectUrl, connector.name);
    } catch (err) {
      // 404 right after a create: the worker has not picked it up yet.
      if (!(err instanceof ConfigError)) throw err;
    }
    if (status) {
      const failed = [status.connector, ...status.tasks].find((s) => s.state === 'FAILED');
      if (failed) throw new ValidationError(`connector ${connector.name} failed: ${(failed.trace ?? 'no trace').split('\n')[0]}`);
      if (status.connector.state === 'RUNNING' && status.tasks.length > 0 && status.tasks.every((t) => t.state === 'RUNNING')) {
        return { created: put.status === 201, status };
      }
    }
    if (Date.now() > deadline) throw new UnavailableError(`connector ${connector.name} is not running after ${options.timeoutMs ?? 30_000} ms (state ${status?.connector.state ?? 'unknown'})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
