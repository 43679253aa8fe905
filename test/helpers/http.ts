// Test helper: JSON calls to a node's HTTP API as a client makes them (status and parsed body; a string body is sent as is).
export interface JsonResponse {
  readonly status: number;
  /** Whatever the route answered, for tests to index into freely (a test helper, not a product API). */
  readonly json: any;
}

export type JsonApi = (method: string, route: string, body?: unknown, headers?: Record<string, string>) => Promise<JsonResponse>;

/** A client of the API at `base()` (a function, so it follows a node that is restarted on another port). */
export function jsonApi(base: () => string): JsonApi {
  return async (method, route, body, headers = {}) => {
    const response = await fetch(`${base()}${route}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: response.status, json };
  };
}
