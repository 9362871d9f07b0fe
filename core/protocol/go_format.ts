// Go's number parsing and string quoting as NSQ's protocol code uses them,
// so that error texts and edge cases match Go nsqd byte for byte.

/**
 * NSQ's protocol.ByteToBase10: ASCII digits only (an empty string is 0), in
 * uint64 arithmetic that wraps silently. Up to 12 digits, the number; longer
 * (rare, so BigInt), the wrapped uint64.
 */
export function base10(s: string): number | bigint | undefined {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  if (s.length <= 12) return n;
  let big = 0n;
  for (let i = 0; i < s.length; i++) big = BigInt.asUintN(64, big * 10n + BigInt(s.charCodeAt(i) - 48));
  return big;
}

/**
 * A base10 value as Go's time.Duration(v) * time.Millisecond, back in ms: up
 * to 12 digits that is the value; beyond, int64 nanoseconds wrap (a huge value
 * can come out negative, or small).
 */
export function durationMs(v: number | bigint): number {
  return typeof v === 'number' ? v : Number(BigInt.asIntN(64, v * 1_000_000n)) / 1e6;
}

/** Go's unicode.IsPrint beyond ASCII: letters, marks, numbers, punctuation, symbols. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 34: '\\"', 92: '\\\\' };

/**
 * Go's %q (strconv.Quote) of a name as the client sent it. `s` holds one char
 * per byte, and so does the result: printable UTF-8 stays as its bytes,
 * invalid bytes become \xNN, other runes \xNN, \uNNNN or \UNNNNNNNN.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length;) {
    const b = s.charCodeAt(i);
    if (b < 0x80) {
      out += ESCAPES[b] ?? (b < 0x20 || b === 0x7f ? `\\x${hex(b, 2)}` : s[i]);
      i++;
      continue;
    }
    const n = utf8Length(s, i);
    if (n === 0) {
      out += `\\x${hex(b, 2)}`;
      i++;
      continue;
    }
    let r = b & (0xff >> (n + 1));
    for (let k = 1; k < n; k++) r = (r << 6) | (s.charCodeAt(i + k) & 0x3f);
    out += PRINTABLE.test(String.fromCodePoint(r)) ? s.slice(i, i + n) : r < 0x10000 ? `\\u${hex(r, 4)}` : `\\U${hex(r, 8)}`;
    i += n;
  }
  return out + '"';
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** The length of the valid UTF-8 sequence at s[i] (one char per byte), 0 if invalid (Go's utf8.DecodeRune rules). */
function utf8Length(s: string, i: number): number {
  const b = s.charCodeAt(i);
  const cont = (k: number, lo = 0x80, hi = 0xbf) => {
    const c = s.charCodeAt(i + k);
    return c >= lo && c <= hi;
  };
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    const ok = b === 0xe0 ? cont(1, 0xa0) : b === 0xed ? cont(1, 0x80, 0x9f) : cont(1);
    return ok && cont(2) ? 3 : 0;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    const ok = b === 0xf0 ? cont(1, 0x90) : b === 0xf4 ? cont(1, 0x80, 0x8f) : cont(1);
    return ok && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}
