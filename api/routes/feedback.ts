// POST /v1/feedback: a rating (and comment) on an answer of this tenant, published as feedback.given on QUERIES.
import { Hono } from 'hono';
import { z } from 'zod';
import { NotFoundError } from '../../lib/errors.ts';
import { QUERY_ID_PATTERN, publishFeedback, readAnswer } from '../../inference/record.ts';
import type { ApiDeps } from '../deps.ts';
import { parseWith, readJson, tenantOf } from '../validation.ts';
import { assertJetStreamAnswers, publishWatched } from '../jetstream-gate.ts';

export const feedbackRequestSchema = z
  .object({
    queryId: z.string().regex(QUERY_ID_PATTERN, 'queryId is the queryId of an answer'),
    /** -1 (bad), 0 (neutral) or 1 (good). */
    rating: z.number().int().min(-1).max(1),
    comment: z.string().max(4000).optional(),
  })
  .strict();

/** Answers are recorded just after they are sent: feedback that arrives first waits briefly for its answer. */
async function answerExists(deps: ApiDeps, tenant: string, queryId: string, waitMs = 2000): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await readAnswer(deps.nats, tenant, queryId);
      return;
    } catch (err) {
      if (!(err instanceof NotFoundError) || Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export function feedbackRoutes(deps: ApiDeps): Hono {
  const app = new Hono();
  app.post('/', async (c) => {
    const tenant = tenantOf(c);
    const body = parseWith(feedbackRequestSchema, await readJson(c), 'feedback');
    await answerExists(deps, tenant, body.queryId);
    await assertJetStreamAnswers(deps);
    const { seq } = await publishWatched(deps, () =>
      publishFeedback(
        deps.nats,
        { queryId: body.queryId, tenant, rating: body.rating, ...(body.comment !== undefined ? { comment: body.comment } : {}) },
        c.req.header('traceparent'),
      ),
    );
    return c.json({ queryId: body.queryId, rating: body.rating, seq }, 202);
  });
  return app;
}
