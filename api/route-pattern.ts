// A Hono route path as an anchored RegExp (`:name` one segment, `*` anything, one trailing slash allowed): for the scope table and 405s.
export function routePattern(path: string): RegExp {
  const body = path
    .split('/')
    .map((segment) => (segment === '*' ? '.*' : segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  // One trailing slash reaches the same handler (or none): it must not change what the route needs.
  return new RegExp(`^${body.replace(/\/$/, '')}/?$`);
}
