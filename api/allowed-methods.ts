// The methods a path answers to, read from the app's own route table: a known path asked with another method gets 405 and Allow.
import type { Hono } from 'hono';
import { routePattern } from './route-pattern.ts';

interface RoutePattern {
  readonly method: string;
  readonly pattern: RegExp;
}

/** Answers the methods registered for a path (with HEAD wherever GET is), or [] for a path no route has. */
export function allowedMethodsOf(app: Hono): (pathname: string) => string[] {
  let routes: RoutePattern[] | undefined;
  return (pathname) => {
    // Built on first use: every route is registered by then.
    routes ??= app.routes.filter((r) => r.method !== 'ALL').map((r) => ({ method: r.method, pattern: routePattern(r.path) }));
    const methods = new Set<string>();
    for (const r of routes) if (r.pattern.test(pathname)) methods.add(r.method);
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  };
}
