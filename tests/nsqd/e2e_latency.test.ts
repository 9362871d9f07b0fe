// The e2e processing latency estimator (core/nsqd/e2e_latency.ts): accuracy
// of the targeted quantiles against exact ones, merging, the two half-window
// rotation, and the text rendering of PROTOCOL.md 3.6.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateE2e, E2eProcessingLatency, epsilonFor, nanosecondsToHuman, QuantileStream } from '../../core/nsqd/e2e_latency.ts';

/** A deterministic pseudo-random sequence (xorshift32) in [0, 1). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** The rank (1-based, as a fraction of n) that `value` has in `sorted`. */
function rankOf(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo / sorted.length;
}

const QS = [1, 0.999, 0.99, 0.95, 0.5];

for (const [name, gen] of [
  ['uniform', (r: () => number) => r() * 1e9],
  ['log-normal-ish', (r: () => number) => Math.exp(r() * 12 + r() * 4)],
  ['sorted ascending', (() => {
    let i = 0;
    return (_r: () => number) => ++i;
  })()],
  ['many equal values', (r: () => number) => Math.floor(r() * 5)],
] as const) {
  test(`quantile estimates within ε·n ranks of the exact ones: ${name}`, () => {
    const r = rng(42);
    for (const n of [1, 7, 499, 500, 501, 10_000, 200_000]) {
      const s = new QuantileStream(QS);
      const values: number[] = [];
      for (let i = 0; i < n; i++) {
        const v = gen(r);
        values.push(v);
        s.insert(v);
      }
      values.sort((a, b) => a - b);
      assert.equal(s.count(), n);
      for (const q of QS) {
        const est = s.query(q);
        assert.ok(values.includes(est), `n=${n} q=${q}: the estimate is an observed value`);
        if (q === 1) {
          assert.equal(est, values[n - 1], `n=${n}: q=1 is the exact maximum`);
          continue;
        }
        // The estimate's rank range (equal values span several ranks) must meet [q-ε-1/n, q+ε+1/n].
        const e = epsilonFor(q) + 1 / n;
        const hi = rankOf(values, est);
        const lo = hi - values.filter((x) => x === est).length / n;
        assert.ok(hi >= q - e && lo <= q + e, `n=${n} q=${q}: rank ${lo.toFixed(5)}..${hi.toFixed(5)} within ±${e.toFixed(5)}`);
      }
    }
  });
}

test('the summary stays small: O((1/ε)·log(εn)) tuples, not n', () => {
  const r = rng(7);
  const s = new QuantileStream([0.99, 0.5]);
  for (let i = 0; i < 500_000; i++) s.insert(r());
  const { values, widths } = s.samples();
  assert.ok(values.length < 1000, `${values.length} tuples for 500k values`);
  assert.equal(widths.reduce((a, b) => a + b, 0), 500_000, 'the widths add up to the count');
  for (let i = 1; i < values.length; i++) assert.ok(values[i - 1]! <= values[i]!, 'sorted');
});

test('an empty stream answers 0; reset forgets everything', () => {
  const s = new QuantileStream([0.5]);
  assert.equal(s.query(0.5), 0);
  assert.equal(s.count(), 0);
  for (let i = 1; i <= 1000; i++) s.insert(i);
  assert.equal(s.count(), 1000);
  s.reset();
  assert.equal(s.count(), 0);
  assert.equal(s.query(0.5), 0);
});

test('merging streams estimates the quantiles of the union', () => {
  const r = rng(3);
  const a = new QuantileStream([0.99, 0.5]);
  const b = new QuantileStream([0.99, 0.5]);
  const all: number[] = [];
  for (let i = 0; i < 30_000; i++) {
    const v = r() * 100;
    a.insert(v);
    all.push(v);
  }
  for (let i = 0; i < 10_000; i++) {
    const v = 100 + r() * 100; // all larger
    b.insert(v);
    all.push(v);
  }
  all.sort((x, y) => x - y);
  const m = new QuantileStream([0.99, 0.5]);
  m.merge(a);
  m.merge(b);
  assert.equal(m.count(), 40_000);
  for (const q of [0.99, 0.5]) {
    const rank = rankOf(all, m.query(q));
    assert.ok(Math.abs(rank - q) <= 2 * epsilonFor(q) + 1e-3, `q=${q}: rank ${rank}`);
  }
});

test('two half windows: FINs are kept between half a window and a whole one', () => {
  const ns = (ms: number) => ms * 1e6;
  const t0 = 1_000_000; // ms
  const e = new E2eProcessingLatency([1, 0.5], 1000, t0);
  // Published 5 ms before each FIN: latency 5 ms.
  e.insert(ns(t0 + 100 - 5), ns(t0 + 100));
  e.insert(ns(t0 + 400 - 5), ns(t0 + 400));
  assert.deepEqual(e.result(t0 + 450), { count: 2, percentiles: [{ quantile: 1, value: 5e6 }, { quantile: 0.5, value: 5e6 }] });
  // t0+600: the half that started at t0 is older than 500 ms, the other half becomes current (empty).
  e.insert(ns(t0 + 600 - 20), ns(t0 + 600));
  assert.equal(e.result(t0 + 650).count, 3, 'the previous half is still merged in');
  assert.equal(e.result(t0 + 650).percentiles![0]!.value, 20e6);
  // t0+1100: a second rotation resets the half that held the first two.
  assert.equal(e.result(t0 + 1100).count, 1);
  // Long idle: everything is stale.
  assert.equal(e.result(t0 + 10_000).count, 0);
  assert.deepEqual(e.result(t0 + 10_000).percentiles, [{ quantile: 1, value: 0 }, { quantile: 0.5, value: 0 }]);
});

test('a topic merges its channels; without any channel with e2e it reports null', () => {
  const a = new E2eProcessingLatency([0.5], 60_000, 0);
  const b = new E2eProcessingLatency([0.5], 60_000, 0);
  for (let i = 1; i <= 99; i++) a.insert(0, i * 1e6);
  b.insert(0, 1000e6);
  const r = aggregateE2e([a, undefined, b], 1);
  assert.equal(r.count, 100);
  assert.ok(Math.abs(r.percentiles![0]!.value - 50e6) <= 3e6, `${r.percentiles![0]!.value}`);
  assert.deepEqual(aggregateE2e([]), { count: 0, percentiles: null });
  assert.deepEqual(aggregateE2e([undefined]), { count: 0, percentiles: null });
});

test('a FIN before its publish time (clock step) counts as 0, not negative', () => {
  const e = new E2eProcessingLatency([1], 60_000, 0);
  e.insert(5e6, 1e6);
  assert.deepEqual(e.result(1), { count: 1, percentiles: [{ quantile: 1, value: 0 }] });
});

test('nanosecondsToHuman: Go\'s one-decimal rendering', () => {
  assert.equal(nanosecondsToHuman(0), '0.0ns');
  assert.equal(nanosecondsToHuman(999), '999.0ns');
  assert.equal(nanosecondsToHuman(1000), '1000.0ns', '> 1e3 switches, = does not');
  assert.equal(nanosecondsToHuman(934_324), '934.3us');
  assert.equal(nanosecondsToHuman(221_100_000), '221.1ms');
  assert.equal(nanosecondsToHuman(3_260_000_000), '3.3s');
});
