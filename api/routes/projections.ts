// GET /v1/projections: the generations of each projection, the active ones, and the serving generation's checkpoints and lag.
import { Hono } from 'hono';
import type { ApiDeps } from '../deps.ts';

const ROLES = ['inference', 'indexing'] as const;

export function projectionRoutes(deps: ApiDeps): Hono {
  const app = new Hono();
  app.get('/', async (c) => {
    const served = deps.serving.current();
    const projector = served.projector;
    const roles = deps.generations
      ? await Promise.all(
          ROLES.map(async (role) => {
            const gens = deps.generations as NonNullable<ApiDeps['generations']>;
            const { alias } = await gens.alias(role);
            const records = await gens.list(role);
            return {
              role,
              active: alias?.generation ?? null,
              previous: alias?.previous ?? null,
              generations: records.map((r) => ({
                id: r.id,
                state: r.id === alias?.generation ? 'active' : r.state,
                model: r.spec.model.dims > 0 ? r.spec.model.id : null,
                store: r.spec.store.kind,
                createdAt: r.createdAt,
                updatedAt: r.updatedAt,
                ...(r.checkpoints ? { checkpoints: r.checkpoints } : {}),
                ...(r.digest ? { digest: r.digest } : {}),
              })),
            };
          }),
        )
      : [];
    return c.json({
      serving: {
        generation: served.id,
        model: served.embedder.info.id,
        vectorWeight: served.vectorWeight,
        ...(projector ? { caughtUp: projector.caughtUp(), sources: projector.positions() } : {}),
      },
      projections: roles,
    });
  });
  return app;
}
