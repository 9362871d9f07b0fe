// The request head of HTTP/1.x (RFC 9112 sections 2 to 7): the request line
// and the header fields, and from them the body's framing.
//
// In two steps, so that a head split over many reads costs one pass:
//
// 1. HeadScanner walks the bytes once, looking for the empty line that ends
//    the head and checking every byte on the way (a table lookup each): a
//    control character, DEL or a CR not followed by LF makes the head bad,
//    a byte past ASCII marks it Latin-1. A head that is not complete yet is
//    resumed where the scan stopped, never rescanned.
// 2. parseHead reads the complete head from one string (decoded once: one
//    native call rather than one per field) with indexOf and charCodeAt. It
//    keeps the string (a Headers object is built from it only if the handler
//    asks for one, see fieldsOf) and looks only at the five fields the
//    server itself needs: Host, Content-Length, Transfer-Encoding,
//    Connection, Expect.
//
// Strict where leniency lets two parsers disagree on where a request ends
// (request smuggling): both Content-Length and Transfer-Encoding, differing
// Content-Lengths, a Content-Length that is not all digits, a field name
// that is not a token (so "Content-Length : 5" too), a folded line, a
// control character anywhere, a Transfer-Encoding on HTTP/1.0: all 400.
// A Transfer-Encoding other than "chunked" is 501 and an Expect other than
// 100-continue 417, as Go's net/http answers them. Lines may end in a bare
// LF (as Go's textproto reads them); a bare CR is an error.
//
// Header bytes beyond ASCII are Latin-1, as Go and the fetch spec's
// ByteString read them: such a head is decoded char per byte (latin1()),
// others with the fast UTF-8 decoder (the same for ASCII).

export const CR = 13;
export const LF = 10;
const SP = 32;
const HT = 9;
const COLON = 58;

/** Go's http.DefaultMaxHeaderBytes: the request line and the fields. */
export const MAX_HEADER_BYTES = 1 << 20;

// tchar (RFC 9110 5.6.2): the characters of a method and a field name.
const TCHAR = new Uint8Array(128);
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = TCHAR[c + 32] = 1;

// Characters of a target that WHATWG URL serialises as they are (so the
// request's url needs no URL object): 1 in the path, 2 in the query, 3 both.
// '%' is left to the path check ("%2e" segments), '\' and the others are
// rewritten or escaped by URL and go the slow way.
const URL_AS_IS = new Uint8Array(128);
for (let c = 33; c < 127; c++) URL_AS_IS[c] = 3;
for (const ch of '"#<>`{}\\^|') URL_AS_IS[ch.charCodeAt(0)] = 0;
URL_AS_IS["'".charCodeAt(0)] = 1; // escaped in the query of http(s) URLs
for (const ch of '{}^|`') URL_AS_IS[ch.charCodeAt(0)] = 2; // escaped in paths only
URL_AS_IS['?'.charCodeAt(0)] = 2;

// Host characters that need no normalising: lowercase reg-name, IPv4, port, IPv6 literal.
const HOST_AS_IS = new Uint8Array(128);
for (const ch of 'abcdefghijklmnopqrstuvwxyz0123456789.-_:[]') HOST_AS_IS[ch.charCodeAt(0)] = 1;

/**
 * A complete, valid request head. It is also the RequestMeta the handler
 * gets (its contentLength), so that no object is made for that per request.
 */
export class RequestHead {
  /** The method as sent (methods are case-sensitive); common ones are shared strings. */
  readonly method: string;
  /** The absolute URL: http://<Host, or the listener's address><target>, as WHATWG URL serialises it. */
  readonly url: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: number;
  /** The decoded head, request line to empty line (see fieldsOf). */
  readonly text: string;
  /** The declared body length, -1 without a Content-Length (or when chunked). */
  readonly bodyLength: number;
  /** The Content-Length value as received (trimmed): RequestMeta's. */
  readonly contentLength: string | undefined;
  readonly chunked: boolean;
  /** The connection ends after this request (Connection: close, or HTTP/1.0 without keep-alive). */
  readonly close: boolean;
  /** HTTP/1.0 asking for keep-alive: the response says Connection: keep-alive. */
  readonly keepAlive10: boolean;
  /** Expect: 100-continue on HTTP/1.1. */
  readonly expectContinue: boolean;

  constructor(
    method: string, url: string, minor: number, text: string, bodyLength: number, contentLength: string | undefined,
    chunked: boolean, close: boolean, keepAlive10: boolean, expectContinue: boolean,
  ) {
    this.method = method;
    this.url = url;
    this.minor = minor;
    this.text = text;
    this.bodyLength = bodyLength;
    this.contentLength = contentLength;
    this.chunked = chunked;
    this.close = close;
    this.keepAlive10 = keepAlive10;
    this.expectContinue = expectContinue;
  }

  /** Whether a body follows the head. */
  get hasBody(): boolean {
    return this.chunked || this.bodyLength > 0;
  }
}

/**
 * The header fields of a head parseHead accepted, as name/value pairs
 * (values trimmed), for the Headers a handler may ask for: the fields are
 * found again rather than kept from the parse, which most requests never
 * need.
 */
export function fieldsOf(head: RequestHead): [string, string][] {
  const t = head.text;
  const out: [string, string][] = [];
  let i = t.indexOf('\n') + 1;
  for (;;) {
    const lf = t.indexOf('\n', i);
    if (lf < 0) break;
    const end = lf > i && t.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
    if (end === i) break;
    const colon = t.indexOf(':', i);
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && (t.charCodeAt(vs) === SP || t.charCodeAt(vs) === HT)) vs++;
    while (ve > vs && (t.charCodeAt(ve - 1) === SP || t.charCodeAt(ve - 1) === HT)) ve--;
    out.push([t.slice(i, colon), t.slice(vs, ve)]);
    i = lf + 1;
  }
  return out;
}

/** HeadScanner.flags: a control character, DEL or bare CR (400). */
export const HEAD_BAD = 1;
/** HeadScanner.flags: bytes past ASCII (decode with latin1()). */
export const HEAD_LATIN = 2;

// Byte classes for the scan: 0 plain, HEAD_BAD, HEAD_LATIN (added to the flags as they are), LF, CR.
const CLASS_LF = 4;
const CLASS_CR = 8;
const CLASS = new Uint8Array(256);
for (let c = 0; c < 32; c++) CLASS[c] = HEAD_BAD;
CLASS[9] = 0;
CLASS[LF] = CLASS_LF;
CLASS[CR] = CLASS_CR;
CLASS[127] = HEAD_BAD;
for (let c = 128; c < 256; c++) CLASS[c] = HEAD_LATIN;

/** Finds the end of one request head across reads; one per connection, reset for each request. */
export class HeadScanner {
  /** Bytes of the head already scanned. */
  #at = 0;
  /** HEAD_BAD | HEAD_LATIN of the bytes scanned. */
  flags = 0;

  reset(): void {
    this.#at = 0;
    this.flags = 0;
  }

  /**
   * The index just past the empty line ending the head that starts at
   * `start`, or -1 if buf[..end) does not hold it yet (call again with more
   * bytes; the head's start may have moved, its bytes not).
   */
  scan(buf: Uint8Array, start: number, end: number): number {
    let f = this.flags;
    let i = start + this.#at;
    for (; i < end; i++) {
      const k = CLASS[buf[i]!]!;
      if (k === 0) continue;
      if (k === CLASS_LF) {
        if (i + 1 >= end) break;
        const n = buf[i + 1];
        if (n === LF) {
          this.flags = f;
          return i + 2;
        }
        if (n === CR) {
          if (i + 2 >= end) break;
          if (buf[i + 2] === LF) {
            this.flags = f;
            return i + 3;
          }
        }
      } else if (k === CLASS_CR) {
        if (i + 1 >= end) break;
        if (buf[i + 1] !== LF) f |= HEAD_BAD;
      } else f |= k;
    }
    this.#at = i - start;
    this.flags = f;
    return -1;
  }
}

const utf8 = new TextDecoder();

/** The head's bytes as a string: one native call; exact for ASCII (HEAD_LATIN unset). */
export function decodeHead(buf: Uint8Array, start: number, end: number): string {
  return utf8.decode(buf.subarray(start, end));
}

/** The bytes as Latin-1, one char per byte. */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, buf.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  }
  return s;
}

/** The common methods as shared strings, others checked as tokens. */
function methodOf(t: string, end: number): string | undefined {
  switch (end) {
    case 3:
      if (t.startsWith('GET')) return 'GET';
      if (t.startsWith('PUT')) return 'PUT';
      break;
    case 4:
      if (t.startsWith('POST')) return 'POST';
      if (t.startsWith('HEAD')) return 'HEAD';
      break;
    case 6:
      if (t.startsWith('DELETE')) return 'DELETE';
      break;
    case 7:
      if (t.startsWith('OPTIONS')) return 'OPTIONS';
      break;
  }
  for (let i = 0; i < end; i++) {
    const c = t.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return undefined;
  }
  return t.slice(0, end);
}

/**
 * Whether t[start..end) equals `lower` ignoring ASCII case. `lower` has no
 * uppercase letters; the only other chars the OR can confuse with its own
 * are control characters, which the scan has refused already.
 */
function equalsLower(t: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    if ((t.charCodeAt(start + i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Whether the comma-separated list t[start..end) holds `token` (case-insensitive). */
function hasToken(t: string, start: number, end: number, token: string): boolean {
  let i = start;
  while (i < end) {
    let comma = t.indexOf(',', i);
    if (comma < 0 || comma > end) comma = end;
    let a = i;
    let b = comma;
    while (a < b && (t.charCodeAt(a) === SP || t.charCodeAt(a) === HT)) a++;
    while (b > a && (t.charCodeAt(b - 1) === SP || t.charCodeAt(b - 1) === HT)) b--;
    if (equalsLower(t, a, b, token)) return true;
    i = comma + 1;
  }
  return false;
}

/** Percent-encodes the chars of a Latin-1 string beyond ASCII byte by byte, as the bytes they were. */
function escapeHigh(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c < 128 ? s[i] : '%' + c.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** The URL host for a Host value, normalised as URL would; undefined if it is not a host. */
function urlHost(t: string, start: number, end: number): string | undefined {
  let plain = true;
  for (let i = start; i < end; i++) {
    const c = t.charCodeAt(i);
    if (c >= 128 || HOST_AS_IS[c] === 0) {
      plain = false;
      break;
    }
  }
  const raw = t.slice(start, end);
  if (plain) return raw;
  // Delimiters would make a Host of "a/b?" move the path: refuse them, and let URL normalise the rest.
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 47 || c === 63 || c === 35 || c === 64 || c === 92 || c <= SP || c >= 127) return undefined;
  }
  try {
    return new URL(`http://${raw}`).host;
  } catch {
    return undefined;
  }
}

/**
 * The url for an origin-form target (t[start..end), starting with '/'):
 * concatenated when WHATWG URL would leave the target as it is, else
 * through URL (escapes, dot segments, '\'). undefined if URL refuses it.
 */
function originUrl(host: string, t: string, start: number, end: number, latin: boolean): string | undefined {
  let plain = true;
  let query = false;
  for (let i = start; i < end; i++) {
    const c = t.charCodeAt(i);
    if (c >= 128) {
      plain = false;
      break;
    }
    const ok = URL_AS_IS[c]!;
    if (c === 63 && !query) { // '?'
      query = true;
      continue;
    }
    if ((ok & (query ? 2 : 1)) === 0) {
      plain = false;
      break;
    }
    if (!query) {
      // "/." and "/%2e" may be dot segments, which URL removes.
      if (c === 46 && t.charCodeAt(i - 1) === 47) {
        plain = false;
        break;
      }
      if (c === 37 && (t.charCodeAt(i + 1) === 50) && (t.charCodeAt(i + 2) | 0x20) === 101) {
        plain = false;
        break;
      }
    }
  }
  if (plain) return `http://${host}${t.slice(start, end)}`;
  const target = latin ? escapeHigh(t.slice(start, end)) : t.slice(start, end);
  try {
    return new URL(`http://${host}${target}`).href;
  } catch {
    return undefined;
  }
}

/**
 * Parses a complete head (the text up to and including its empty line) that
 * HeadScanner passed: a RequestHead, or the status to refuse it with (400,
 * 417, 501, 505). `latin`: the text has chars past ASCII (HEAD_LATIN).
 * `defaultHost` stands in for a missing Host on HTTP/1.0.
 */
export function parseHead(t: string, defaultHost: string, latin: boolean): RequestHead | number {
  // ---- request line: method SP target SP HTTP/1.x
  let lf = t.indexOf('\n');
  if (lf < 0) return 400;
  let lineEnd = lf > 0 && t.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
  const sp1 = t.indexOf(' ');
  if (sp1 <= 0 || sp1 >= lineEnd) return 400;
  const method = methodOf(t, sp1);
  if (method === undefined) return 400;
  const sp2 = t.indexOf(' ', sp1 + 1);
  if (sp2 < 0 || sp2 >= lineEnd || sp2 === sp1 + 1) return 400;
  if (lineEnd - sp2 !== 9 || !t.startsWith('HTTP/', sp2 + 1)) return 400;
  const major = t.charCodeAt(sp2 + 6) - 48;
  const minorDigit = t.charCodeAt(sp2 + 8) - 48;
  if (t.charCodeAt(sp2 + 7) !== 46 || major < 0 || major > 9 || minorDigit < 0 || minorDigit > 9) return 400;
  if (major !== 1) return 505;
  const minor = minorDigit === 0 ? 0 : 1;
  const tab = t.indexOf('\t', sp1);
  if (tab >= 0 && tab < lineEnd) return 400; // (the scan let tabs through: values may hold them)

  // ---- header fields
  let hostStart = -1;
  let hostEnd = -1;
  let hosts = 0;
  let contentLength = -1;
  let contentLengthText: string | undefined;
  let te = 0;
  let chunked = false;
  let close = false;
  let keepAlive = false;
  let expectContinue = false;
  let expectOther = false;
  let i = lf + 1;
  for (;;) {
    lf = t.indexOf('\n', i);
    if (lf < 0) return 400;
    lineEnd = lf > i && t.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
    if (lineEnd === i) break; // the empty line
    // name ':' OWS value OWS; a line starting with whitespace is an obsolete fold
    let j = i;
    for (; j < lineEnd; j++) {
      const c = t.charCodeAt(j);
      if (c >= 128 || TCHAR[c] === 0) break;
    }
    if (j === i || j === lineEnd || t.charCodeAt(j) !== COLON) return 400;
    let vs = j + 1;
    let ve = lineEnd;
    while (vs < ve && (t.charCodeAt(vs) === SP || t.charCodeAt(vs) === HT)) vs++;
    while (ve > vs && (t.charCodeAt(ve - 1) === SP || t.charCodeAt(ve - 1) === HT)) ve--;
    switch (j - i) {
      case 4:
        if (equalsLower(t, i, j, 'host')) {
          hosts++;
          hostStart = vs;
          hostEnd = ve;
        }
        break;
      case 6:
        if (equalsLower(t, i, j, 'expect')) {
          if (equalsLower(t, vs, ve, '100-continue')) expectContinue = true;
          else expectOther = true;
        }
        break;
      case 10:
        if (equalsLower(t, i, j, 'connection')) {
          if (hasToken(t, vs, ve, 'close')) close = true;
          if (hasToken(t, vs, ve, 'keep-alive')) keepAlive = true;
        }
        break;
      case 14:
        if (equalsLower(t, i, j, 'content-length')) {
          if (ve === vs || ve - vs > 15) return 400;
          let n = 0;
          for (let k = vs; k < ve; k++) {
            const d = t.charCodeAt(k) - 48;
            if (d < 0 || d > 9) return 400;
            n = n * 10 + d;
          }
          if (contentLength >= 0 && n !== contentLength) return 400;
          contentLength = n;
          contentLengthText ??= t.slice(vs, ve);
        }
        break;
      case 17:
        if (equalsLower(t, i, j, 'transfer-encoding')) {
          te++;
          chunked = equalsLower(t, vs, ve, 'chunked');
        }
        break;
    }
    i = lf + 1;
  }

  // ---- framing (RFC 9112 6.1 and 6.3)
  if (te > 0) {
    if (minor === 0 || contentLength >= 0) return 400;
    if (te > 1 || !chunked) return 501;
  }
  if (expectOther) return 417;
  if (hosts > 1) return 400;
  if (hosts === 0 && minor === 1) return 400;

  // ---- url
  let url: string | undefined;
  const first = t.charCodeAt(sp1 + 1);
  if (first === 47) { // '/': origin-form
    const host = hostStart >= 0 && hostEnd > hostStart ? urlHost(t, hostStart, hostEnd) : defaultHost;
    if (host === undefined) return 400;
    url = originUrl(host, t, sp1 + 1, sp2, latin);
  } else if (equalsLower(t, sp1 + 1, sp1 + 8, 'http://') || equalsLower(t, sp1 + 1, sp1 + 9, 'https://')) {
    // absolute-form: the target's authority wins over Host (RFC 9112 3.2.2)
    try {
      url = new URL(latin ? escapeHigh(t.slice(sp1 + 1, sp2)) : t.slice(sp1 + 1, sp2)).href;
    } catch {
      url = undefined;
    }
  }
  if (url === undefined) return 400;

  const closes = close || (minor === 0 && !keepAlive);
  return new RequestHead(method, url, minor, t, chunked ? -1 : contentLength, contentLengthText, chunked, closes,
    minor === 0 && !closes, expectContinue && minor === 1);
}
