// Real HTTP requests against a test nsqd, every one bounded in time.

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON (throws with the body if it is not). */
  json(): unknown;
}

export interface HttpOptions {
  body?: string | Uint8Array | ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  /** Follow redirects (default false: a 3xx comes back as it is). */
  follow?: boolean;
  timeoutMs?: number;
}

export async function http(port: number, method: string, path: string, opts: HttpOptions = {}): Promise<HttpResult> {
  const init: RequestInit & { duplex?: 'half' } = {
    method,
    headers: opts.headers,
    body: opts.body as BodyInit | undefined,
    redirect: opts.follow ? 'follow' : 'manual',
    signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
  };
  if (opts.body instanceof ReadableStream) init.duplex = 'half';
  const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json() {
      try {
        return JSON.parse(text);
      } catch {
        throw new Error(`${method} ${path}: not JSON: ${JSON.stringify(text.slice(0, 200))}`);
      }
    },
  };
}

export const get = (port: number, path: string, opts?: HttpOptions) => http(port, 'GET', path, opts);
export const post = (port: number, path: string, body?: HttpOptions['body'], opts: HttpOptions = {}) => http(port, 'POST', path, { ...opts, body });

/** A chunked body (no Content-Length): `n` chunks of `size` bytes of `fill`. */
export function chunkedBody(n: number, size: number, fill = 0x61): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === n) return controller.close();
      sent++;
      controller.enqueue(new Uint8Array(size).fill(fill));
    },
  });
}

export const NSQ_V1 = 'nsq; version=1.0';
export const JSON_CT = 'application/json; charset=utf-8';
