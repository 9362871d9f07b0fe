// NSQ's "V1" HTTP API conventions (internal/http_api/api_response.go and the
// router set-up of nsqd/http.go; PROTOCOL.md 5.1), shared by nsqd's and
// nsqlookupd's apps:
//
// - success with data: 200, compact JSON, Content-Type application/json and
//   X-NSQ-Content-Type: nsq; version=1.0; success with text: 200, the text;
//   success without data: 200, empty body; both with X-NSQ-Content-Type;
// - an error: its status and {"message":"<TEXT>"} with both headers;
// - an unknown path: 404 NOT_FOUND; a known path with another method: 405
//   METHOD_NOT_ALLOWED with Allow; OPTIONS on a known path: 200 with Allow; a
//   path that only differs by a trailing slash: redirected (301 GET, 307
//   others); a handler that throws anything but an ApiError: 500
//   INTERNAL_ERROR.
import { Hono, type Context } from 'hono';
import type { Logger } from '../log.ts';
import type { RequestMeta } from '../ports.ts';

export const NSQ_CONTENT_TYPE = 'nsq; version=1.0';
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
export const TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8';

// Plain objects (not Headers): the Node server (core/http/http1) writes them as they are.
const JSON_HEADERS = Object.freeze({ 'Content-Type': JSON_CONTENT_TYPE, 'X-NSQ-Content-Type': NSQ_CONTENT_TYPE });
const TEXT_HEADERS = Object.freeze({ 'Content-Type': TEXT_CONTENT_TYPE, 'X-NSQ-Content-Type': NSQ_CONTENT_TYPE });
const EMPTY_HEADERS = Object.freeze({ 'X-NSQ-Content-Type': NSQ_CONTENT_TYPE });

/** An NSQ API error: the status and the text that goes in {"message": ...}. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, text: string) {
    super(text);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** 200 with a JSON body. */
export function jsonResponse(data: unknown): Response {
  return new Response(JSON.stringify(data), { status: 200, headers: JSON_HEADERS });
}

/** 200 with a text body (e.g. "OK"). */
export function textResponse(text: string): Response {
  return new Response(text, { status: 200, headers: TEXT_HEADERS });
}

/** 200 with an empty body. */
export function emptyResponse(): Response {
  return new Response('', { status: 200, headers: EMPTY_HEADERS });
}

/** An error: `status` and {"message":"<text>"}. */
export function errorResponse(status: number, text: string, extra?: Record<string, string>): Response {
  const headers = extra === undefined ? JSON_HEADERS : { ...JSON_HEADERS, ...extra };
  return new Response(JSON.stringify({ message: text }), { status, headers });
}

/** Plain text without the NSQ header (/ping). */
export function plainResponse(status: number, text: string): Response {
  return new Response(text, { status, headers: { 'Content-Type': TEXT_CONTENT_TYPE } });
}

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
export type RouteHandler = (c: Context) => Response | Promise<Response>;

export interface Route {
  readonly method: Method;
  /** Hono path syntax: /config/:opt. */
  readonly path: string;
  readonly handler: RouteHandler;
}

/**
 * A Hono app serving `routes` with NSQ's conventions for everything around
 * them. Handlers answer by returning a Response or throwing an ApiError.
 */
export function createApiApp(routes: readonly Route[], logger?: Logger): Hono {
  const app = new Hono();
  const methods = new Map<string, Method[]>();
  for (const r of routes) {
    app.on(r.method, r.path, r.handler);
    const list = methods.get(r.path) ?? [];
    list.push(r.method);
    methods.set(r.path, list);
  }
  // The known paths, for what no route matched. (Not routes of their own:
  // a second match on a path would cost every request Hono's compose path.)
  const known = [...methods].map(([path, list]) => ({
    re: new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/:[^/]+/g, '[^/]+')}$`),
    // httprouter's Allow: the methods and OPTIONS, sorted.
    allow: [...new Set([...list, 'OPTIONS'])].sort().join(', '),
  }));
  const find = (path: string) => known.find((k) => k.re.test(path));
  app.notFound((c) => {
    const path = c.req.path;
    const hit = find(path);
    if (hit !== undefined) {
      if (c.req.method === 'OPTIONS') return new Response('', { status: 200, headers: { Allow: hit.allow } });
      logger?.debug(`HTTP: ${c.req.method} ${path} 405`);
      return errorResponse(405, 'METHOD_NOT_ALLOWED', { Allow: hit.allow });
    }
    if (path.length > 1 && path.endsWith('/') && find(path.slice(0, -1)) !== undefined) {
      const url = c.req.url;
      const q = url.indexOf('?');
      const fixed = path.slice(0, -1);
      return new Response('', { status: c.req.method === 'GET' ? 301 : 307, headers: { Location: q < 0 ? fixed : fixed + url.slice(q) } });
    }
    return errorResponse(404, 'NOT_FOUND');
  });
  app.onError((err) => {
    if (err instanceof ApiError) return errorResponse(err.status, err.message);
    logger?.error(`HTTP: internal error - ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return errorResponse(500, 'INTERNAL_ERROR');
  });
  return app;
}

// ---- query strings, as Go's url.ParseQuery

const HEX = /^[0-9a-fA-F]{2}$/;
const latin1 = new TextDecoder('latin1');

function unescape(s: string): string | undefined {
  if (s.indexOf('%') < 0) return s.indexOf('+') < 0 ? s : s.replace(/\+/g, ' ');
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (ch === 0x2b) bytes.push(0x20);
    else if (ch < 0x80) bytes.push(ch);
    else for (const b of new TextEncoder().encode(s[i]!)) bytes.push(b);
  }
  const raw = Uint8Array.from(bytes);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    // Not UTF-8: one char per byte, as Go keeps the bytes (a name check then refuses it).
    return latin1.decode(raw);
  }
}

/**
 * The query string of `url` as key → first value, as Go's url.ParseQuery
 * reads it ('+' is a space, %XX escapes); undefined when Go would refuse it
 * (a bad escape, or a ';' separator).
 */
export function parseQuery(url: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const q = url.indexOf('?');
  if (q < 0) return out;
  let end = url.indexOf('#', q);
  if (end < 0) end = url.length;
  let at = q + 1;
  while (at < end) {
    let amp = url.indexOf('&', at);
    if (amp < 0 || amp > end) amp = end;
    const part = url.slice(at, amp);
    at = amp + 1;
    if (part === '') continue;
    if (part.indexOf(';') >= 0) return undefined;
    const eq = part.indexOf('=');
    const key = unescape(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : unescape(part.slice(eq + 1));
    if (key === undefined || value === undefined) return undefined;
    if (!(key in out)) out[key] = value;
  }
  return out;
}

/** Go's boolParams: true/1/false/0, anything else undefined. */
export function boolParam(s: string | undefined): boolean | undefined {
  return s === 'true' || s === '1' ? true : s === 'false' || s === '0' ? false : undefined;
}

/** The declared Content-Length: from the adapter's RequestMeta (c.env) when it has it, else the headers. */
export function contentLength(req: Request, meta: unknown): string | null {
  return (meta as RequestMeta | undefined)?.contentLength ?? req.headers.get('content-length');
}

/**
 * Reads a request body of at most `limit` bytes; undefined when it is longer
 * (a declared Content-Length over the limit is refused before reading).
 * `meta` is the adapter's RequestMeta (a Hono app's c.env).
 */
export async function readBody(req: Request, limit: number, meta?: unknown): Promise<Uint8Array | undefined> {
  const declared = contentLength(req, meta);
  if (declared !== null) {
    if (Number(declared) > limit) return undefined;
    // bytes() where there is one: on nsq-ts's own server it is a view of the bytes received, no copy.
    const buf = typeof req.bytes === 'function' ? await req.bytes() : new Uint8Array(await req.arrayBuffer());
    return buf.length > limit ? undefined : buf;
  }
  // Chunked: stop reading as soon as the limit is passed.
  const body = req.body;
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
