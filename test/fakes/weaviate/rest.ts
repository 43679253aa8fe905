// The fake's REST side: /v1/meta, readiness, /v1/schema (classes and tenants) and /v1/aliases, as the Weaviate REST API defines them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FakeError, TENANT_ACTIVITY_STATUS, type FakeWeaviateState } from './state.ts';

/** The version the fake claims: new enough for gRPC search/batch (1.27), tenant REST (1.28) and collection aliases (1.32). */
export const FAKE_VERSION = '1.32.0';

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new FakeError(400, 'request body is not JSON');
  }
}

function send(res: ServerResponse, status: number, payload?: unknown): void {
  if (payload === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

const aliasJson = (alias: string, target: string) => ({ alias, class: target });

export function restHandler(state: FakeWeaviateState) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const url = new URL(req.url ?? '/', 'http://fake');
      const parts = url.pathname.replace(/\/+$/, '').split('/').filter(Boolean).map(decodeURIComponent);
      const method = req.method ?? 'GET';
      if (parts[0] !== 'v1') throw new FakeError(404, `no route ${url.pathname}`);
      const [, resource, name, sub] = parts;

      if (resource === 'meta' && method === 'GET') return send(res, 200, { hostname: 'http://[::]:8080', version: FAKE_VERSION, modules: {}, grpcMaxMessageSize: 104858000 });
      if (resource === '.well-known') return send(res, 200);

      if (resource === 'schema') {
        if (name === undefined) {
          if (method === 'GET') return send(res, 200, { classes: [...state.classes.values()].map((c) => c.schema) });
          if (method === 'POST') return send(res, 200, state.createClass((await body(req)) as Record<string, unknown>).schema);
        } else if (sub === undefined) {
          if (method === 'GET') return send(res, 200, state.resolve(name).schema);
          if (method === 'DELETE') {
            state.deleteClass(name);
            return send(res, 200);
          }
        } else if (sub === 'tenants') {
          const c = state.resolve(name);
          if (method === 'GET' && parts[4] === undefined) {
            return send(res, 200, [...c.shards.keys()].map((t) => ({ name: t, activityStatus: TENANT_ACTIVITY_STATUS })));
          }
          if (method === 'GET') {
            if (!c.shards.has(parts[4] as string)) throw new FakeError(404, 'tenant not found');
            return send(res, 200, { name: parts[4], activityStatus: TENANT_ACTIVITY_STATUS });
          }
          if (method === 'POST') {
            const tenants = (await body(req)) as Array<{ name: string }>;
            state.addTenants(c, tenants.map((t) => t.name));
            return send(res, 200, tenants.map((t) => ({ name: t.name, activityStatus: TENANT_ACTIVITY_STATUS })));
          }
          if (method === 'DELETE') {
            for (const t of (await body(req)) as string[]) c.shards.delete(t);
            return send(res, 200);
          }
        }
      }

      if (resource === 'aliases') {
        if (name === undefined) {
          if (method === 'GET') {
            const only = url.searchParams.get('class');
            const aliases = [...state.aliases].filter(([, target]) => !only || target === only).map(([alias, target]) => aliasJson(alias, target));
            return send(res, 200, { aliases });
          }
          if (method === 'POST') {
            const { alias, class: target } = (await body(req)) as { alias: string; class: string };
            if (!state.classes.has(target)) throw new FakeError(404, `class ${target} does not exist`);
            if (state.aliases.has(alias) || state.classes.has(alias)) throw new FakeError(422, `alias ${alias} already exists`);
            state.aliases.set(alias, target);
            return send(res, 200, aliasJson(alias, target));
          }
        } else {
          const target = state.aliases.get(name);
          if (target === undefined) throw new FakeError(404, `alias ${name} not found`);
          if (method === 'GET') return send(res, 200, aliasJson(name, target));
          if (method === 'PUT') {
            const { class: next } = (await body(req)) as { class: string };
            if (!state.classes.has(next)) throw new FakeError(404, `class ${next} does not exist`);
            state.aliases.set(name, next);
            return send(res, 200, aliasJson(name, next));
          }
          if (method === 'DELETE') {
            state.aliases.delete(name);
            return send(res, 204);
          }
        }
      }
      throw new FakeError(404, `the fake has no route ${method} ${url.pathname}`);
    } catch (err) {
      if (err instanceof FakeError) return send(res, err.status, { error: [{ message: err.message }] });
      send(res, 500, { error: [{ message: err instanceof Error ? err.message : String(err) }] });
    }
  };
}
