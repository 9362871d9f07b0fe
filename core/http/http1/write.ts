// Responses to bytes: the status line, the header fields, the server's own
// fields (Date, Content-Length, Connection) and the body, in one Uint8Array
// for one write.
//
// Two ways:
// - encodeLean(): a LeanResponse whose body is a string, bytes or nothing,
//   with its headers as a plain object or a Headers, straight from its
//   parts, synchronously: one string for the head (and a short ASCII body),
//   one TextEncoder call. A frozen headers object (core's constant headers)
//   is checked and turned into text once, then looked up in a WeakMap.
// - writeResponse(): any Response, through the standard API: the headers
//   iterated, the body stream read. A body that ends at once (a few
//   microtask turns: the bytes were already there) goes out with a
//   Content-Length in one write; otherwise the handler's Content-Length if it
//   gave one, else chunked (HTTP/1.1) or the end of the connection (1.0).
//
// Fields are checked as Headers would (token names, no CR/LF/NUL in values)
// so that a plain-object header cannot split the response. Content-Length,
// Transfer-Encoding and Connection are the server's: the handler's are
// dropped (Connection: close from the handler is honoured). No body for
// HEAD (its Content-Length still says the length, as Go's does), 204, 304.

import { BODY, HEAD_OF, HEADERS, INIT, type LeanResponse, STATUS, TEXT_PLAIN } from './response.ts';
import { statusLine } from './status.ts';

const encoder = new TextEncoder();

// Output bytes come from 64 KiB slabs, handed out as views and never
// reused: a new Uint8Array costs ~0.8 µs on Node (a malloc'd backing store
// each), a view of a slab ~0.03 µs. A slab lives as long as a write holds
// one of its views.
const SLAB_SIZE = 64 * 1024;
let slab = new Uint8Array(SLAB_SIZE);
let slabAt = 0;

/** `n` fresh bytes for one write. */
function alloc(n: number): Uint8Array {
  if (n > SLAB_SIZE >>> 3) return new Uint8Array(n);
  if (slabAt + n > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabAt = 0;
  }
  const out = slab.subarray(slabAt, slabAt + n);
  slabAt += n;
  return out;
}

/** An ASCII string as bytes. */
export function ascii(s: string): Uint8Array {
  const out = alloc(s.length);
  encoder.encodeInto(s, out);
  return out;
}

/** Per connection, reused: what the response depends on, and what writing it decided. */
export interface WriteContext {
  /** The request was HEAD. */
  head: boolean;
  /** The connection closes after this response (may be set by the writer). */
  close: boolean;
  /** HTTP/1.0 with keep-alive. */
  keepAlive10: boolean;
  /** HTTP/1.1 (chunked encoding is possible). */
  http11: boolean;
}

/** Where the bytes go: a write, and the back-pressure wait (undefined when there is room). */
export interface Sink {
  write(bytes: Uint8Array): void;
  ready(): Promise<void> | undefined;
}

// ---- Date, once per second

let dateSecond = -1;
let dateField = '';

export function dateHeader(now: number): string {
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateField = `Date: ${new Date(s * 1000).toUTCString()}\r\n`;
  }
  return dateField;
}

// ---- header fields

const TCHAR = new Uint8Array(128);
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = TCHAR[c + 32] = 1;

/** The handler's fields as text, and what the server needs to know of them. */
interface Fields {
  lines: string;
  contentType: boolean;
  date: boolean;
  close: boolean;
  /** A value has chars 0x80-0xFF: the head is written as Latin-1. */
  latin: boolean;
  /** The handler's Content-Length, if it gave one (used for stream bodies only). */
  contentLength: string | undefined;
}

const NO_FIELDS: Fields = Object.freeze({ lines: '', contentType: false, date: false, close: false, latin: false, contentLength: undefined });
const frozenFields = new WeakMap<object, Fields>();

/** HTTP whitespace, which Headers strips from both ends of a value. */
function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function lowerEquals(name: string, lower: string): boolean {
  return name.length === lower.length && (name === lower || name.toLowerCase() === lower);
}

/** Adds one field to `f`, checked; the server's own fields are noted, not written. */
function addField(f: Fields, name: string, value: string): void {
  if (name.length === 0) throw new TypeError('Invalid header name: ""');
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) throw new TypeError(`Invalid header name: ${JSON.stringify(name)}`);
  }
  // Headers strips leading and trailing whitespace; CR, LF, NUL and chars past 0xFF are refused.
  let a = 0;
  let b = value.length;
  while (a < b && isSpace(value.charCodeAt(a))) a++;
  while (b > a && isSpace(value.charCodeAt(b - 1))) b--;
  if (a !== 0 || b !== value.length) value = value.slice(a, b);
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 10 || c === 13 || c > 255) throw new TypeError(`Invalid header value for ${name}`);
    if (c >= 128) f.latin = true;
  }
  switch (name.length) {
    case 4:
      if (lowerEquals(name, 'date')) f.date = true;
      break;
    case 10:
      if (lowerEquals(name, 'connection')) {
        if (/(^|,)\s*close\s*(,|$)/i.test(value)) f.close = true;
        return;
      }
      break;
    case 12:
      if (lowerEquals(name, 'content-type')) f.contentType = true;
      break;
    case 14:
      if (lowerEquals(name, 'content-length')) {
        f.contentLength = value;
        return;
      }
      break;
    case 17:
      if (lowerEquals(name, 'transfer-encoding')) return;
      break;
  }
  f.lines += `${name}: ${value}\r\n`;
}

function newFields(): Fields {
  return { lines: '', contentType: false, date: false, close: false, latin: false, contentLength: undefined };
}

function fromHeaders(h: Headers): Fields {
  const f = newFields();
  h.forEach((value, name) => {
    if (name === 'set-cookie') return;
    addField(f, name, value);
  });
  // Set-Cookie values go on a line each (forEach may join them).
  const cookies = typeof h.getSetCookie === 'function' ? h.getSetCookie() : [];
  for (const c of cookies) addField(f, 'set-cookie', c);
  return f;
}

function fromRecord(r: Record<string, unknown>): Fields {
  const f = newFields();
  for (const name in r) {
    const v = r[name];
    addField(f, name, typeof v === 'string' ? v : String(v));
  }
  return f;
}

/** The fields of a HeadersInit (or the lean response's Headers). */
function fieldsOf(h: unknown): Fields {
  if (h === undefined || h === null) return NO_FIELDS;
  // A Headers or pairs; a plain record never touches the global Headers (on Node, reading it loads undici).
  if (typeof (h as Iterable<unknown>)[Symbol.iterator] === 'function') return fromHeaders(h instanceof Headers ? h : new Headers(h as HeadersInit));
  if (Object.isFrozen(h)) {
    let f = frozenFields.get(h as object);
    if (f === undefined) {
      f = Object.freeze(fromRecord(h as Record<string, unknown>));
      frozenFields.set(h as object, f);
    }
    return f;
  }
  return fromRecord(h as Record<string, unknown>);
}

// ---- assembling

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 128) return false;
  return true;
}

/** A Latin-1 string (every char <= 0xFF) as bytes, into `out` at 0; returns `out`. */
function latin1Into(s: string, out: Uint8Array): Uint8Array {
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** head (ASCII, or Latin-1 when `latin`) followed by body. */
function join(head: string, latin: boolean, body: Uint8Array | undefined): Uint8Array {
  const n = body === undefined ? 0 : body.length;
  const out = alloc(head.length + n);
  if (latin) latin1Into(head, out);
  else encoder.encodeInto(head, out);
  if (n > 0) out.set(body!, head.length);
  return out;
}

function connectionField(ctx: WriteContext): string {
  return ctx.close ? 'Connection: close\r\n' : ctx.keepAlive10 ? 'Connection: keep-alive\r\n' : '';
}

const SHORT_STRING = 2048;

/**
 * The bytes of a LeanResponse with a string, bytes or no body, or undefined
 * when it has another kind of body (then writeResponse). Throws a TypeError
 * for an invalid header.
 */
export function encodeLean(res: LeanResponse, ctx: WriteContext, now: number): Uint8Array | undefined {
  const body = res[BODY];
  let bytes: Uint8Array | undefined;
  let text: string | undefined;
  if (body === null) { /* no body */ } else if (typeof body === 'string') text = body;
  else if (body instanceof Uint8Array) bytes = body;
  else if (body instanceof ArrayBuffer) bytes = new Uint8Array(body);
  else return undefined;
  const init = res[INIT];
  const h = res[HEADERS] ?? init?.headers;
  const f = fieldsOf(h);
  if (f.close) ctx.close = true;
  const status = res[STATUS];
  const statusText = init?.statusText;
  let head = statusLine(status, statusText) + f.lines;
  if (text !== undefined && !f.contentType) head += `Content-Type: ${TEXT_PLAIN}\r\n`;
  if (!f.date) head += dateHeader(now);
  const latin = f.latin || (statusText !== undefined && !isAscii(statusText));

  // the body's length, and its bytes unless it is a short ASCII string
  let length = -1;
  if (text !== undefined) {
    if (text.length <= SHORT_STRING && !latin && isAscii(text)) length = text.length;
    else {
      bytes = encoder.encode(text);
      text = undefined;
    }
  }
  if (bytes !== undefined) length = bytes.length;

  const noBody = status === 204 || status === 304;
  if (length < 0 && ctx.head) {
    const of = res[HEAD_OF];
    if (of !== undefined) length = typeof of === 'string' ? encoder.encode(of).length : of.length;
  }
  if (!noBody && (length >= 0 || !ctx.head)) head += `Content-Length: ${length < 0 ? 0 : length}\r\n`;
  head += connectionField(ctx);
  head += '\r\n';
  if (noBody || ctx.head || length <= 0) return join(head, latin, undefined);
  if (text !== undefined) return ascii(head + text);
  return join(head, latin, bytes);
}

// ---- any Response, through the standard API

const NOT_YET: unique symbol = Symbol('not yet');
type ReadResult = ReadableStreamReadResult<Uint8Array>;

/** `p`, or NOT_YET if it has not settled after a few microtask turns. */
function soon(p: Promise<ReadResult>): Promise<ReadResult | typeof NOT_YET> {
  const later = Promise.resolve().then(() => undefined).then(() => undefined).then(() => undefined).then((): typeof NOT_YET => NOT_YET);
  return Promise.race([p, later]);
}

const EAGER_LIMIT = 1 << 20;

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = alloc(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const CRLF = encoder.encode('\r\n');
const LAST_CHUNK = encoder.encode('0\r\n\r\n');

function chunk(data: Uint8Array): Uint8Array {
  return join(`${data.length.toString(16)}\r\n`, false, concat([data, CRLF], data.length + 2));
}

/**
 * Writes any Response (a real one, or a lean one with a stream, Blob,
 * FormData... body). Resolves when the last byte is handed to the sink;
 * sets ctx.close when the connection cannot be reused after it.
 */
export async function writeResponse(res: Response, ctx: WriteContext, now: number, sink: Sink): Promise<void> {
  const status = res.status;
  const f = fromHeaders(res.headers);
  if (f.close) ctx.close = true;
  let head = statusLine(status, res.statusText) + f.lines;
  if (!f.date) head += dateHeader(now);
  const latin = f.latin || !isAscii(res.statusText);
  const body = res.body;
  const declared = f.contentLength !== undefined && /^\d{1,15}$/.test(f.contentLength) ? Number(f.contentLength) : -1;

  if (status === 204 || status === 304 || body === null) {
    body?.cancel().catch(() => {});
    if (status !== 204 && status !== 304) {
      if (!ctx.head) head += 'Content-Length: 0\r\n';
      else if (declared >= 0) head += `Content-Length: ${declared}\r\n`;
    }
    sink.write(join(head + connectionField(ctx) + '\r\n', latin, undefined));
    return;
  }

  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  let pending: Promise<ReadResult> | undefined;
  let done = false;
  try {
    // Past EAGER_LIMIT one more read only, to see whether the body ends there.
    for (let past = false; !past;) {
      past = total >= EAGER_LIMIT;
      pending ??= reader.read();
      const r = await soon(pending);
      if (r === NOT_YET) break;
      pending = undefined;
      if (r.done) {
        done = true;
        break;
      }
      parts.push(r.value);
      total += r.value.length;
    }
  } catch (err) {
    // The body failed before anything was written: an error response instead.
    reader.cancel().catch(() => {});
    throw err;
  }

  if (ctx.head) {
    // HEAD: the length GET would have, when known; no body
    reader.cancel().catch(() => {});
    if (done || declared >= 0) head += `Content-Length: ${done ? total : declared}\r\n`;
    sink.write(join(head + connectionField(ctx) + '\r\n', latin, undefined));
    return;
  }
  if (done) {
    head += `Content-Length: ${total}\r\n${connectionField(ctx)}\r\n`;
    sink.write(join(head, latin, total === 0 ? undefined : concat(parts, total)));
    return;
  }

  // The body is still coming: framed by the handler's Content-Length, chunks, or the connection's end.
  const chunked = declared < 0 && ctx.http11;
  if (declared >= 0) head += `Content-Length: ${declared}\r\n`;
  else if (chunked) head += 'Transfer-Encoding: chunked\r\n';
  else ctx.close = true;
  head += connectionField(ctx) + '\r\n';
  const first = concat(parts, total);
  sink.write(join(head, latin, total === 0 ? undefined : chunked ? chunk(first) : first));
  let sent = total;
  try {
    for (;;) {
      const wait = sink.ready();
      if (wait !== undefined) await wait;
      const r = await (pending ?? reader.read());
      pending = undefined;
      if (r.done) break;
      if (r.value.length === 0) continue;
      sent += r.value.length;
      if (declared >= 0 && sent > declared) {
        ctx.close = true;
        reader.cancel().catch(() => {});
        return;
      }
      sink.write(chunked ? chunk(r.value) : r.value);
    }
  } catch {
    // The body failed midway: the response cannot be completed, the connection must end.
    ctx.close = true;
    return;
  }
  if (chunked) sink.write(LAST_CHUNK);
  else if (declared >= 0 && sent !== declared) ctx.close = true;
}
