// GET /v1/connectors: the connectors this process runs (SPANDA_CONNECTORS_FILE), each with its state, documents published and last error.
import { Hono } from 'hono';
import type { ApiDeps } from '../deps.ts';

export function connectorRoutes(deps: ApiDeps): Hono {
  const app = new Hono();
  app.get('/', (c) => {
    if (!deps.connectors) {
      return c.json({
        connectors: [],
        detail: 'this process runs no connectors: list them in SPANDA_CONNECTORS_FILE (spanda up, or spanda run connectors); a connectors process of its own reports them in its spanda_connector_* metrics',
      });
    }
    return c.json({ connectors: deps.connectors() });
  });
  return app;
}
