// A stand-in for the global Response that only keeps what it was built
// with, so that a handler's `new Response('OK', { headers })` costs an
// object, not undici's Response, Headers and body stream (~6 µs on Node 24).
//
// installLeanResponse() puts it in globalThis.Response (as @hono/node-server
// does with its own): a Hono app's c.text()/c.json() and core's
// api_response.ts then make LeanResponses, which the HTTP/1.1 server writes
// straight to bytes (write.ts). For everyone else it is still a Response:
// its prototype chains to Response.prototype, `x instanceof Response` holds
// for real and lean ones alike, the constructor checks what the real one
// checks (status range, statusText, a body with a null-body status), status,
// ok, statusText and headers answer without building anything but a Headers,
// and every other member (body, text(), clone(), ...) builds the real
// Response once and answers from it. Response.json(), .redirect() and
// .error() are the real ones and return real Responses, which the server
// writes through the standard API. The real class is looked up only when
// one of these needs it (native.ts).

import { delegateToReal, RESPONSE_MEMBERS } from './delegate.ts';
import { lazyNative, prepareNatives } from './native.ts';

export const BODY: unique symbol = Symbol('body');
export const STATUS: unique symbol = Symbol('status');
export const INIT: unique symbol = Symbol('init');
export const HEADERS: unique symbol = Symbol('headers');
export const REAL: unique symbol = Symbol('real');
export const HEAD_OF: unique symbol = Symbol('head of');

export const TEXT_PLAIN = 'text/plain;charset=UTF-8';

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** reason-phrase: HTAB, SP, VCHAR, obs-text. */
function validStatusText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127 || c > 255) return false;
  }
  return true;
}

export class LeanResponse {
  /** The body as given (null when none). */
  [BODY]: unknown;
  [STATUS]: number;
  [INIT]: ResponseInit | undefined;
  /** The Headers made on first access of `headers`; the server writes these when present. */
  [HEADERS]: Headers | undefined;
  /** The real Response, once something needed it. */
  [REAL]: Response | undefined;
  /** The body of the response this one copies the status and headers of (for HEAD's Content-Length). */
  [HEAD_OF]: string | Uint8Array | undefined;

  static [Symbol.hasInstance](x: unknown): boolean {
    return LeanResponse.prototype.isPrototypeOf(x as object) || x instanceof nativeResponse();
  }

  static json(data: unknown, init?: ResponseInit): Response {
    return nativeResponse().json(data, init);
  }

  static redirect(url: string | URL, status?: number): Response {
    return nativeResponse().redirect(url, status);
  }

  static error(): Response {
    return nativeResponse().error();
  }

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    let status = 200;
    if (init != null) {
      if (isLean(init)) {
        // new Response(null, getResponse), as Hono answers HEAD: the server
        // may still say the GET body's length (HEAD_OF).
        const b = init[BODY];
        if (body == null && (typeof b === 'string' || b instanceof Uint8Array)) this[HEAD_OF] = b;
        init = { status: init[STATUS], statusText: init[INIT]?.statusText, headers: init[HEADERS] ?? init[INIT]?.headers };
      } else if (Object.getPrototypeOf(init) !== Object.prototype) {
        // A Response or another object with getters: read them now, as the real constructor does.
        init = { status: init.status, statusText: init.statusText, headers: init.headers };
      }
      if (init.status !== undefined) {
        status = Math.trunc(Number(init.status));
        if (!(status >= 200 && status <= 599)) {
          throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive.`);
        }
      }
      if (init.statusText !== undefined && !validStatusText(String(init.statusText))) throw new TypeError('Invalid statusText');
    }
    if (body === undefined) body = null;
    if (body !== null && NULL_BODY_STATUS.has(status)) throw new TypeError(`Response with null body status ${status} cannot have body`);
    this[BODY] = body;
    this[STATUS] = status;
    this[INIT] = init ?? undefined;
    this[HEADERS] = undefined;
    this[REAL] = undefined;
  }

  get status(): number {
    return this[REAL]?.status ?? this[STATUS];
  }

  get ok(): boolean {
    const s = this.status;
    return s >= 200 && s <= 299;
  }

  get statusText(): string {
    return this[REAL]?.statusText ?? (this[INIT]?.statusText === undefined ? '' : String(this[INIT]!.statusText));
  }

  get headers(): Headers {
    if (this[REAL] !== undefined) return this[REAL].headers;
    let h = this[HEADERS];
    if (h === undefined) {
      const body = this[BODY];
      if (body !== null && typeof body !== 'string' && !(body instanceof Uint8Array) && !(body instanceof ArrayBuffer)) {
        // Blob, FormData, URLSearchParams, streams: the real Response knows their Content-Type.
        return materialise(this).headers;
      }
      h = new Headers(this[INIT]?.headers);
      if (typeof body === 'string' && !h.has('content-type')) h.set('content-type', TEXT_PLAIN);
      this[HEADERS] = h;
    }
    return h;
  }
}

/** The real Response for a lean one (made once; the lean one answers from it afterwards). */
export function materialise(r: LeanResponse): Response {
  let real = r[REAL];
  if (real === undefined) {
    const init = r[INIT];
    real = new (nativeResponse())(r[BODY] as BodyInit | null, {
      status: r[STATUS],
      statusText: init?.statusText,
      headers: r[HEADERS] ?? init?.headers,
    });
    r[REAL] = real;
  }
  return real;
}

// Everything else of Response answers from the real Response.
delegateToReal(LeanResponse, RESPONSE_MEMBERS, materialise);
const nativeResponse = lazyNative<typeof Response>('Response', (native) => Object.setPrototypeOf(LeanResponse.prototype, native.prototype));

/** Whether `r` is a LeanResponse nothing has materialised (the server may write it from its parts). */
export function isLean(r: unknown): r is LeanResponse {
  return (r as LeanResponse)[STATUS] !== undefined && (r as LeanResponse)[REAL] === undefined;
}

/**
 * Makes LeanResponse the global Response, for the HTTP/1.1 server on a
 * runtime whose own Response is costly (Node). Idempotent.
 */
export function installLeanResponse(): void {
  prepareNatives(); // keeps the real Response before taking its place
  // The descriptor, not globalThis.Response: reading that would load the native class.
  if (Object.getOwnPropertyDescriptor(globalThis, 'Response')?.value === LeanResponse) return;
  Object.defineProperty(globalThis, 'Response', { value: LeanResponse, writable: true, configurable: true, enumerable: false });
}
