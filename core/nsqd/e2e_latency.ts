// End-to-end processing latency (PROTOCOL.md 3.6; NSQ's internal/quantile):
// on each FIN a channel records the time since the message was published,
// and /stats reports the configured percentiles over a sliding window.
//
// The estimator is the targeted-quantiles algorithm of Cormode, Korn,
// Muthukrishnan and Srivastava ("Effective Computation of Biased Quantiles
// over Data Streams", ICDE 2005), as Go NSQ uses it through perks/quantile:
// a sorted summary of (value, width, delta) tuples in which the rank error
// allowed around each target quantile q is at most 2·ε·rank/q (below q) or
// 2·ε·(n−rank)/(1−q) (above it). Go NSQ uses ε = 0.01 for every target,
// which lets a p99 be anything from the p98 to the maximum; here each target
// gets ε = min(0.01, (1−q)/10) (at least 1e-4), as Prometheus' client does
// with the same algorithm (0.99 → 0.001), and 1.0 is the exact maximum. The
// estimate of q is then within ±ε·n ranks of the truth. Inserts are buffered (500)
// and merged into the summary in one sorted pass, which is then compressed,
// so the cost per insert is a store into a Float64Array plus an amortised
// O(summary size / 500). The summary stays at O((1/ε)·log(εn)) tuples.
//
// The window: two estimators each covering half of it. Once the current half
// is older than window/2 they swap, and the one becoming current is reset, so
// a query (which merges both) sees between half a window and a whole one.

import { nowNs } from './message.ts';

const EPSILON = 0.01;
const MIN_EPSILON = 1e-4;
const BUFFER = 500;

/** The rank error allowed for target quantile q, as a fraction of n. */
export function epsilonFor(q: number): number {
  return q >= 1 ? EPSILON : Math.max(MIN_EPSILON, Math.min(EPSILON, (1 - q) / 10));
}

/** One CKMS targeted-quantiles summary. Values are any finite numbers (here nanoseconds). */
export class QuantileStream {
  readonly quantiles: readonly number[];
  private readonly epsilons: readonly number[];
  private buf = new Float64Array(BUFFER);
  private bufLen = 0;
  // The summary, sorted by value: parallel arrays of value, width (g) and delta.
  private values: number[] = [];
  private widths: number[] = [];
  private deltas: number[] = [];
  /** Total width of the summary (observations merged into it). */
  private n = 0;

  constructor(quantiles: readonly number[]) {
    this.quantiles = quantiles;
    this.epsilons = quantiles.map(epsilonFor);
  }

  /** The rank error allowed at rank r when n observations are summarised. */
  private allowed(r: number, n: number): number {
    let m = Number.MAX_VALUE;
    const qs = this.quantiles;
    const es = this.epsilons;
    for (let i = 0; i < qs.length; i++) {
      const q = qs[i]!;
      const e = es[i]!;
      const f = q * n <= r ? (2 * e * r) / q : (2 * e * (n - r)) / (1 - q);
      if (f < m) m = f;
    }
    return m;
  }

  insert(v: number): void {
    this.buf[this.bufLen++] = v;
    if (this.bufLen === BUFFER) {
      this.flush();
      this.compress();
    }
  }

  /** Observations seen since the last reset. */
  count(): number {
    return this.bufLen + this.n;
  }

  reset(): void {
    this.bufLen = 0;
    this.values = [];
    this.widths = [];
    this.deltas = [];
    this.n = 0;
  }

  /** Merges sorted (value, width) pairs into the summary in one pass. */
  private mergeSorted(vs: ArrayLike<number>, ws: ArrayLike<number> | undefined, len: number): void {
    if (len === 0) return;
    const oldV = this.values;
    const oldW = this.widths;
    const oldD = this.deltas;
    const total = oldV.length + len;
    const nv = new Array<number>(total);
    const nw = new Array<number>(total);
    const nd = new Array<number>(total);
    let i = 0; // in the old summary
    let j = 0; // in the incoming values
    let k = 0;
    let r = 0; // rank so far: widths of the tuples already placed
    let n = this.n;
    while (j < len) {
      const v = vs[j]!;
      // Old tuples with a value <= v come first (a new equal value goes after them).
      while (i < oldV.length && oldV[i]! <= v) {
        nv[k] = oldV[i]!;
        nw[k] = oldW[i]!;
        nd[k] = oldD[i]!;
        r += oldW[i]!;
        k++;
        i++;
      }
      const w = ws === undefined ? 1 : ws[j]!;
      nv[k] = v;
      nw[k] = w;
      // A new maximum is known exactly; elsewhere its rank is uncertain by the invariant.
      nd[k] = i < oldV.length ? Math.floor(this.allowed(r, n)) - 1 : 0;
      r += w;
      n += w;
      k++;
      j++;
    }
    for (; i < oldV.length; i++, k++) {
      nv[k] = oldV[i]!;
      nw[k] = oldW[i]!;
      nd[k] = oldD[i]!;
    }
    this.values = nv;
    this.widths = nw;
    this.deltas = nd;
    this.n = n;
  }

  private flush(): void {
    if (this.bufLen === 0) return;
    const sorted = this.buf.subarray(0, this.bufLen).sort();
    this.mergeSorted(sorted, undefined, this.bufLen);
    this.bufLen = 0;
  }

  /** Folds each tuple into its right neighbour while the invariant allows, from the top down. */
  private compress(): void {
    const len = this.values.length;
    if (len < 2) return;
    const vs = this.values;
    const ws = this.widths;
    const ds = this.deltas;
    const keep = new Uint8Array(len).fill(1);
    let x = len - 1;
    let r = this.n - 1 - ws[x]!;
    for (let c = len - 2; c >= 0; c--) {
      const cw = ws[c]!;
      if (cw + ws[x]! + ds[x]! <= this.allowed(r, this.n)) {
        ws[x] = ws[x]! + cw;
        keep[c] = 0;
      } else {
        x = c;
      }
      r -= cw;
    }
    let k = 0;
    for (let i = 0; i < len; i++) {
      if (keep[i] === 0) continue;
      vs[k] = vs[i]!;
      ws[k] = ws[i]!;
      ds[k] = ds[i]!;
      k++;
    }
    vs.length = ws.length = ds.length = k;
  }

  /** The summary (flushed and compressed) as parallel arrays, for merging into another stream. */
  samples(): { values: readonly number[]; widths: readonly number[] } {
    this.flush();
    this.compress();
    return { values: this.values, widths: this.widths };
  }

  /** Merges another stream's summary into this one. */
  merge(other: QuantileStream): void {
    const s = other.samples();
    this.flush();
    this.mergeSorted(s.values, s.widths, s.values.length);
    this.compress();
  }

  /** The estimated q-quantile (0 when empty). q should be one of the targets. */
  query(q: number): number {
    this.flush();
    const vs = this.values;
    if (vs.length === 0) return 0;
    const ws = this.widths;
    const ds = this.deltas;
    let t = Math.ceil(q * this.n);
    t += Math.ceil(this.allowed(t, this.n) / 2);
    let p = 0;
    let r = 0;
    for (let c = 1; c < vs.length; c++) {
      r += ws[p]!;
      if (r + ws[c]! + ds[c]! > t) return vs[p]!;
      p = c;
    }
    return vs[p]!;
  }
}

export interface E2eResult {
  count: number;
  /** In the configured (descending) order; null when the feature is off. */
  percentiles: { quantile: number; value: number }[] | null;
}

export const E2E_DISABLED: E2eResult = Object.freeze({ count: 0, percentiles: null }) as E2eResult;

/** Two half-window estimators of the time from publish to FIN, in nanoseconds. */
export class E2eProcessingLatency {
  readonly percentiles: readonly number[];
  /** Half the window, in ms. */
  private readonly moveWindowMs: number;
  private readonly streams: [QuantileStream, QuantileStream];
  private current = 0;
  private lastMoveWindow: number;

  /** `percentiles` sorted descending, each in (0, 1]; `windowMs` the whole window. */
  constructor(percentiles: readonly number[], windowMs: number, now: number = nowNs() / 1e6) {
    this.percentiles = percentiles;
    this.moveWindowMs = windowMs / 2;
    this.streams = [new QuantileStream(percentiles), new QuantileStream(percentiles)];
    this.lastMoveWindow = now;
  }

  private rotate(now: number): void {
    const move = this.moveWindowMs;
    if (now <= this.lastMoveWindow + move) return;
    if (now > this.lastMoveWindow + 2 * move) {
      // Idle for more than a whole window: both halves are stale.
      this.streams[0].reset();
      this.streams[1].reset();
      this.lastMoveWindow = now;
      return;
    }
    this.current ^= 1;
    this.streams[this.current]!.reset();
    this.lastMoveWindow += move;
  }

  /**
   * Records one FIN of a message published at `timestampNs`, read on the
   * clock that stamps messages (message.ts nowNs), so that sub-millisecond
   * latencies come out right.
   */
  insert(timestampNs: number, now: number = nowNs()): void {
    this.rotate(now / 1e6);
    this.streams[this.current]!.insert(Math.max(0, now - timestampNs));
  }

  /** Both halves merged into `into`. */
  mergeInto(into: QuantileStream, nowMs: number = nowNs() / 1e6): void {
    this.rotate(nowMs);
    into.merge(this.streams[0]);
    into.merge(this.streams[1]);
  }

  result(nowMs: number = nowNs() / 1e6): E2eResult {
    const merged = new QuantileStream(this.percentiles);
    this.mergeInto(merged, nowMs);
    return resultOf(merged, this.percentiles);
  }
}

/** The /stats object for a merged stream. */
export function resultOf(stream: QuantileStream, percentiles: readonly number[]): E2eResult {
  return {
    count: stream.count(),
    percentiles: percentiles.map((q) => ({ quantile: q, value: stream.query(q) })),
  };
}

/** A topic's figure: the merge of its channels' estimators (Go: AggregateChannelE2eProcessingLatency). */
export function aggregateE2e(channels: readonly (E2eProcessingLatency | undefined)[], nowMs: number = nowNs() / 1e6): E2eResult {
  let merged: QuantileStream | undefined;
  let percentiles: readonly number[] = [];
  for (const e of channels) {
    if (e === undefined) continue;
    if (merged === undefined) {
      percentiles = e.percentiles;
      merged = new QuantileStream(percentiles);
    }
    e.mergeInto(merged, nowMs);
  }
  return merged === undefined ? E2E_DISABLED : resultOf(merged, percentiles);
}

/** Go's NanoSecondToHuman: one decimal and s, ms, us or ns. */
export function nanosecondsToHuman(v: number): string {
  let suffix = 'ns';
  if (v > 1e9) {
    v /= 1e9;
    suffix = 's';
  } else if (v > 1e6) {
    v /= 1e6;
    suffix = 'ms';
  } else if (v > 1e3) {
    v /= 1e3;
    suffix = 'us';
  }
  return `${v.toFixed(1)}${suffix}`;
}
