// The published event contracts over HTTP: GET /v1/schemas (index), /v1/schemas/:name (one JSON Schema), /asyncapi.yaml.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Hono } from 'hono';
import { ConfigError, NotFoundError, errorMessage } from '../../lib/errors.ts';
import { SCHEMA_DIR } from '../../streams/schemas/generate.ts';

export const SCHEMA_CONTENT_TYPE = 'application/schema+json';
/** RFC 9512. */
export const YAML_CONTENT_TYPE = 'application/yaml';

interface SchemaEntry {
  readonly name: string;
  readonly type: string;
  readonly version: number;
  readonly id: string;
  readonly href: string;
  readonly text: string;
}

interface Contracts {
  readonly schemas: ReadonlyMap<string, SchemaEntry>;
  readonly asyncapi: string;
}

const SCHEMA_FILE = /^(.+)\.v(\d+)\.json$/;

/**
 * Reads streams/schemas/*.json and streams/asyncapi.yaml (the committed contracts, checked against the zod event
 * definitions by streams/schemas/schemas.test.ts). AsyncAPI refers to the schema files relatively
 * (`./schemas/x.v1.json`); served from `/asyncapi.yaml`, those refs are pointed at `./v1/schemas/x.v1.json` so a tool
 * that resolves them from this server finds them.
 */
async function loadContracts(dir: string): Promise<Contracts> {
  const schemas = new Map<string, SchemaEntry>();
  for (const file of (await readdir(dir)).sort()) {
    const match = SCHEMA_FILE.exec(file);
    if (!match) continue;
    const name = file.slice(0, -'.json'.length);
    const text = await readFile(path.join(dir, file), 'utf8');
    const parsed = JSON.parse(text) as { $id?: unknown };
    schemas.set(name, {
      name,
      type: match[1] as string,
      version: Number(match[2]),
      id: typeof parsed.$id === 'string' ? parsed.$id : `urn:spanda:event:${name}`,
      href: `/v1/schemas/${name}`,
      text,
    });
  }
  const asyncapi = (await readFile(path.join(dir, '..', 'asyncapi.yaml'), 'utf8')).replace(
    /\$ref: '\.\/schemas\/([^']+)'/g,
    (_, file: string) => `$ref: './v1/schemas/${file}'`,
  );
  return { schemas, asyncapi };
}

/** Routes mounted at the root. The files are read on the first request and kept (createApp does no I/O); a failed read is retried. */
export function schemaRoutes(options: { dir?: string } = {}): Hono {
  const dir = options.dir ?? SCHEMA_DIR;
  let loading: Promise<Contracts> | undefined;
  const contracts = async (): Promise<Contracts> => {
    loading ??= loadContracts(dir).catch((err: unknown) => {
      loading = undefined;
      throw new ConfigError(`cannot read the event schemas in ${dir}: ${errorMessage(err)}`);
    });
    return loading;
  };
  const app = new Hono();

  app.get('/v1/schemas', async (c) => {
    const { schemas } = await contracts();
    return c.json({
      schemas: [...schemas.values()].map(({ name, type, version, id, href }) => ({ name, type, version, id, href })),
      asyncapi: '/asyncapi.yaml',
    });
  });

  app.get('/v1/schemas/:name', async (c) => {
    const { schemas } = await contracts();
    const requested = c.req.param('name').replace(/\.json$/, '');
    const entry = schemas.get(requested);
    if (!entry) {
      throw new NotFoundError(`no schema ${JSON.stringify(requested)}; GET /v1/schemas lists them (${[...schemas.keys()].join(', ')})`);
    }
    return c.body(entry.text, 200, { 'content-type': SCHEMA_CONTENT_TYPE, 'cache-control': 'public, max-age=300' });
  });

  app.get('/asyncapi.yaml', async (c) => {
    const { asyncapi } = await contracts();
    return c.body(asyncapi, 200, { 'content-type': YAML_CONTENT_TYPE, 'cache-control': 'public, max-age=300' });
  });

  return app;
}
