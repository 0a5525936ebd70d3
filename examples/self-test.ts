/**
 * Shared by the server examples' `--self-test` mode (used in CI): sends each request to the running server,
 * prints what came back and throws when a status is not the expected one. Not needed in your app.
 */

/** One request of a self-test and the status it must get. */
export interface Probe {
  method?: 'GET' | 'POST';
  path: string;
  body?: unknown;
  /** Expected status (default 200). */
  status?: number;
  /** Which part of the response body to print (default: all of it). */
  show?: (text: string) => string;
}

/** Sends each request in order and prints `METHOD path -> status` and the body. */
export async function selfTest(baseUrl: string, probes: Probe[]): Promise<void> {
  for (const { method = 'GET', path, body, status = 200, show = (t: string) => t } of probes) {
    const res = await fetch(new URL(path, baseUrl), {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    console.log(
      `${method} ${path} -> ${res.status} ${res.headers.get('content-type') ?? ''}\n${show(text).trim()}\n`,
    );
    if (res.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${res.status}`);
  }
}
