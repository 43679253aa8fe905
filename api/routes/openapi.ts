// GET /openapi.json (the OpenAPI 3.1 document of the routes the app registered) and GET /docs (the same as a static HTML page).
import { Hono } from 'hono';
import { buildOpenApi, renderDocsPage } from '../openapi.ts';

/** `app` is the whole API: the document is built on first request, once every route is registered. */
export function openApiRoutes(app: Hono): Hono {
  const routes = new Hono();
  let spec: ReturnType<typeof buildOpenApi> | undefined;
  let html: string | undefined;
  const current = () => (spec ??= buildOpenApi(app.routes));
  routes.get('/openapi.json', (c) => c.json(current()));
  routes.get('/docs', (c) => {
    html ??= renderDocsPage(current());
    // No script runs on the page and it loads nothing: a strict policy costs nothing.
    return c.html(html, 200, { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'", 'x-content-type-options': 'nosniff' });
  });
  return routes;
}
