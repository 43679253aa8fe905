// GET /v1/answers/:id: an answer of this tenant with its lineage down to the DOCUMENTS events it came from.
import { Hono } from 'hono';
import { answerLineage } from '../../inference/lineage.ts';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../validation.ts';

export function answerRoutes(deps: ApiDeps): Hono {
  const app = new Hono();
  app.get('/:id', async (c) => c.json(await answerLineage(deps.nats, tenantOf(c), c.req.param('id'))));
  return app;
}
