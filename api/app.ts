// Builds the Hono app: routes, body limits, metrics, and one onError that turns every error into problem+json. No I/O at import.
import { ValidationError } from '../lib/errors.ts';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { defaultMetrics } from '../lib/metrics.ts';
import { allowedMethodsOf } from './allowed-methods.ts';
import { AuthError, authMiddleware } from './auth.ts';
import { limitBodies } from './body-limit.ts';
import type { ApiDeps } from './deps.ts';
import { problem, problemFromError, sendProblem } from './problems.ts';
import { documentRoutes } from './routes/documents.ts';
import { isNdjsonUpload } from './routes/documents-ndjson.ts';
import { schemaRoutes } from './routes/schemas.ts';
import { healthRoutes } from './routes/health.ts';
import { projectionRoutes } from './routes/projections.ts';
import { connectorRoutes } from './routes/connectors.ts';
import { openApiRoutes } from './routes/openapi.ts';
import { queryRoutes } from './routes/query.ts';
import { chatRoutes } from './routes/chat.ts';
import { feedbackRoutes } from './routes/feedback.ts';
import { answerRoutes } from './routes/answers.ts';
import { inferenceOf } from '../inference/settings.ts';
import { UnsupportedMediaTypeError, payloadTooLarge, requestContext } from './validation.ts';

export function createApp(deps: ApiDeps): Hono {
  const app = new Hono();
  const metrics = deps.metrics ?? defaultMetrics();

  // Trace context first (every response carries traceparent, refusals too), CORS before auth (preflights carry no key).
  app.use('*', requestContext(deps.logger));
  if (deps.corsOrigins && deps.corsOrigins.length > 0) app.use('*', corsFor(deps.corsOrigins));
  app.use('*', async (c, next) => {
    const end = metrics.httpSeconds.startTimer();
    await next();
    const route = c.req.routePath || 'unmatched';
    end({ method: c.req.method, route });
    metrics.httpRequests.labels(c.req.method, route, String(c.res.status)).inc();
  });
  app.use('*', authMiddleware(deps.auth, deps.logger.child('auth')));
  const limitBody = limitBodies(deps.maxBodyBytes, () => payloadTooLarge(deps.maxBodyBytes));
  // An NDJSON upload is streamed and limited per line by its route; the whole-body limit would buffer all of it.
  app.use('/v1/*', (c, next) => (isNdjsonUpload(c.req.raw) ? next() : limitBody(c, next)));

  // A path whose percent-encoding is not UTF-8 (%FF, a lone surrogate's %ED%A0%80) would reach a route as those
  // literal characters: an id nobody published, deleted or looked up as if it were one.
  app.use('/v1/*', async (c, next) => {
    const pathname = new URL(c.req.url).pathname;
    try {
      decodeURIComponent(pathname);
    } catch {
      throw new ValidationError(`the path ${pathname} holds percent-encoding that is not UTF-8; percent-encode the UTF-8 bytes of each id`, ['path: malformed percent-encoding']);
    }
    await next();
  });
  app.route('/', healthRoutes(deps));
  app.route('/v1/documents', documentRoutes(deps));
  app.route('/', schemaRoutes());
  const inference = inferenceOf(deps);
  app.route('/v1/query', queryRoutes(deps, inference));
  app.route('/v1/chat/completions', chatRoutes(deps, inference));
  app.route('/v1/feedback', feedbackRoutes(deps));
  app.route('/v1/answers', answerRoutes(deps));
  app.route('/v1/projections', projectionRoutes(deps));
  app.route('/v1/connectors', connectorRoutes(deps));
  // Last: it describes the routes registered before it.
  app.route('/', openApiRoutes(app));

  const allowedMethods = allowedMethodsOf(app);
  app.notFound((c) => {
    const pathname = new URL(c.req.url).pathname;
    const allowed = allowedMethods(pathname);
    // Routes match without a trailing slash only: the path without it is the one that answers this method.
    if (allowed.includes(c.req.method) && pathname.endsWith('/')) {
      return sendProblem(problem(404, 'not-found', 'Not found', `no route ${c.req.method} ${pathname}; drop the trailing slash: ${pathname.replace(/\/+$/, '')}`));
    }
    if (allowed.length > 0) {
      const detail = `${pathname} answers ${allowed.join(', ')}, not ${c.req.method}; see GET /openapi.json`;
      return sendProblem(problem(405, 'method-not-allowed', 'Method not allowed', detail), { allow: allowed.join(', ') });
    }
    return sendProblem(problem(404, 'not-found', 'Not found', `no route ${c.req.method} ${pathname}; see the README for the API`));
  });
  app.onError((err, c) => {
    if (err instanceof AuthError) return err.toResponse();
    if (err instanceof UnsupportedMediaTypeError) return sendProblem(problem(415, 'unsupported-media-type', 'Unsupported media type', err.message));
    if (err instanceof HTTPException) return sendProblem(problem(err.status, 'http', err.message || 'HTTP error', err.message || `HTTP ${err.status}`));
    const { problem: p, headers } = problemFromError(err);
    if (p.status >= 500) deps.logger.error('request failed', { method: c.req.method, path: new URL(c.req.url).pathname, error: err.message });
    return sendProblem(p, headers);
  });
  return app;
}

/** CORS for the configured origins ("*" for any); bearer keys travel in a header, so no credentials mode is needed. */
function corsFor(origins: readonly string[]) {
  return cors({
    origin: origins.includes('*') ? '*' : [...origins],
    allowMethods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
    allowHeaders: ['authorization', 'content-type', 'traceparent', 'x-tenant'],
    exposeHeaders: ['traceparent', 'retry-after', 'www-authenticate'],
    maxAge: 600,
  });
}
