// The queue scanner (PROTOCOL.md 3.4, queue_scanner.ts) over fake channels:
// bounded work per pass, the worker pool size, the dirty-percent repeat rule,
// and that a busy scan never stalls the event loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueueScanner, type ScannerOptions, type ScanTarget } from '../../core/nsqd/queue_scanner.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

/** A channel stand-in that counts the scanner's calls; `dirty(n)` says whether its n-th visit finds work. */
class FakeChannel implements ScanTarget {
  exiting = false;
  inFlightCalls = 0;
  deferredCalls = 0;
  lastNow = 0;
  private readonly inFlightDirty: (call: number) => boolean;
  private readonly deferredDirty: (call: number) => boolean;
  constructor(inFlightDirty: (call: number) => boolean = () => false, deferredDirty: (call: number) => boolean = () => false) {
    this.inFlightDirty = inFlightDirty;
    this.deferredDirty = deferredDirty;
  }
  processInFlightQueue(now: number): boolean {
    this.lastNow = now;
    return this.inFlightDirty(++this.inFlightCalls);
  }
  processDeferredQueue(now: number): boolean {
    this.lastNow = now;
    return this.deferredDirty(++this.deferredCalls);
  }
}

const OPTS: ScannerOptions = {
  queueScanInterval: 100,
  queueScanRefreshInterval: 60000,
  queueScanSelectionCount: 20,
  queueScanWorkerPoolMax: 4,
  queueScanDirtyPercent: 0.25,
};

const fakes = (n: number, make: (i: number) => FakeChannel = () => new FakeChannel()) => Array.from({ length: n }, (_, i) => make(i));

/** Runs `body` with a scanner over `targets`; always stops it, and stop() must be prompt. */
async function withScanner(opts: Partial<ScannerOptions>, targets: ScanTarget[], body: (s: QueueScanner) => Promise<void>): Promise<void> {
  const s = new QueueScanner({ ...OPTS, ...opts }, () => targets);
  try {
    await body(s);
  } finally {
    const t0 = performance.now();
    await s.stop();
    const took = performance.now() - t0;
    assert.ok(took < 200, `stop() took ${took.toFixed(0)} ms`);
  }
}

test('one scanOnce() visits exactly queue-scan-selection-count distinct channels of 10,000', async () => {
  const targets = fakes(10000, (i) => new FakeChannel(() => i % 2 === 0, () => i % 3 === 0));
  const s = new QueueScanner(OPTS, () => targets);
  s.refresh();
  const t0 = performance.now();
  const { selected, dirty } = await s.scanOnce();
  const visited = targets.filter((t) => t.inFlightCalls > 0);
  assert.equal(selected, 20);
  assert.equal(visited.length, 20, 'exactly 20 channels visited');
  for (const t of targets) {
    assert.ok(t.inFlightCalls <= 1, 'no channel visited twice in one pass');
    assert.equal(t.deferredCalls, t.inFlightCalls, 'in-flight and deferred queues processed together');
  }
  const expectDirty = targets.filter((t, i) => t.inFlightCalls > 0 && (i % 2 === 0 || i % 3 === 0)).length;
  assert.equal(dirty, expectDirty, 'a channel is dirty if either queue had work');
  for (const t of visited) assert.ok(t.lastNow >= t0 && t.lastNow <= performance.now(), 'processed at the current time');

  // Another pass picks at random again: over 50 passes far more than 20 channels are seen.
  for (let i = 0; i < 50; i++) await s.scanOnce();
  const seen = targets.filter((t) => t.inFlightCalls > 0).length;
  assert.ok(seen > 500, `${seen} distinct channels over 51 passes`);
  assert.equal(targets.reduce((n, t) => n + t.inFlightCalls, 0), 51 * 20);
  await s.stop();
});

test('scanOnce() picks distinct channels even when the selection is most of the list', async () => {
  const targets = fakes(30);
  const s = new QueueScanner(OPTS, () => targets);
  s.refresh();
  const total = new Array<number>(30).fill(0);
  for (let pass = 0; pass < 100; pass++) {
    const before = targets.map((t) => t.inFlightCalls);
    const { selected } = await s.scanOnce();
    assert.equal(selected, 20);
    const visited = targets.map((t, i) => t.inFlightCalls - before[i]!);
    assert.ok(visited.every((v) => v <= 1), `pass ${pass} visited a channel twice`);
    assert.equal(visited.reduce((a, b) => a + b, 0), 20);
    visited.forEach((v, i) => (total[i]! += v));
  }
  // uniform: each channel is picked 2/3 of the time, ~67 of 100 passes
  for (const n of total) assert.ok(n > 40 && n < 90, `picked ${n} times of 100`);
});

test('scanOnce() over fewer channels than the selection count visits each once; exiting ones are skipped', async () => {
  const targets = fakes(7);
  targets[3]!.exiting = true;
  const s = new QueueScanner(OPTS, () => targets);
  s.refresh();
  await s.scanOnce();
  assert.deepEqual(targets.map((t) => t.inFlightCalls), [1, 1, 1, 0, 1, 1, 1]);
});

test('the worker pool is clamp(floor(n / 4), 1, --queue-scan-worker-pool-max) after refresh()', () => {
  let targets: ScanTarget[] = [];
  const s = new QueueScanner(OPTS, () => targets);
  const cases: [number, number][] = [[0, 1], [3, 1], [4, 1], [8, 2], [15, 3], [16, 4], [10000, 4]];
  for (const [n, pool] of cases) {
    targets = fakes(n);
    s.refresh();
    assert.equal(s.poolSize, pool, `pool for ${n} channels`);
  }
  const big = new QueueScanner({ ...OPTS, queueScanWorkerPoolMax: 16 }, () => targets);
  targets = fakes(10000);
  big.refresh();
  assert.equal(big.poolSize, 16);
  targets = fakes(40);
  big.refresh();
  assert.equal(big.poolSize, 10);
});

test('the scanner repeats at once while more than dirty-percent are dirty, then waits for the next tick', async () => {
  // 6 of 20 (30% > 25%) are dirty on their first 3 visits: passes 1-3 repeat, pass 4 is clean.
  const targets = fakes(20, (i) => new FakeChannel((call) => i < 6 && call <= 3));
  await withScanner({ queueScanInterval: 400 }, targets, async (s) => {
    const t0 = performance.now();
    s.start();
    await sleep(200);
    assert.equal(targets[0]!.inFlightCalls, 0, 'nothing before the first tick');
    await waitFor(() => targets.every((t) => t.inFlightCalls >= 4), 1500, 'four back-to-back passes');
    const firstPasses = performance.now() - t0;
    await sleep(150);
    assert.deepEqual(new Set(targets.map((t) => t.inFlightCalls)), new Set([4]), 'exactly 4 passes, then it waits');
    await waitFor(() => targets.every((t) => t.inFlightCalls >= 5), 1500, 'the next tick');
    assert.ok(performance.now() - t0 >= firstPasses + 150);
    assert.ok(targets.every((t) => t.inFlightCalls === 5), 'one clean pass per tick');
  });
});

test('exactly dirty-percent dirty does not repeat; just above it does', async () => {
  // 5 of 20 = 25%: not more than 25%, so one pass per tick.
  // (Dirty for 2 s at most, so that a scanner that never yields cannot hang the test.)
  const until = performance.now() + 2000;
  const atThreshold = fakes(20, (i) => new FakeChannel(() => i < 5 && performance.now() < until));
  await withScanner({ queueScanInterval: 400 }, atThreshold, async (s) => {
    s.start();
    await waitFor(() => atThreshold[0]!.inFlightCalls >= 1, 1500, 'the first tick');
    await sleep(200);
    assert.equal(atThreshold[0]!.inFlightCalls, 1);
  });
  // 6 of 20 = 30%, through the deferred queue this time: repeats without waiting for a tick.
  const until2 = performance.now() + 2000;
  const above = fakes(20, (i) => new FakeChannel(undefined, () => i < 6 && performance.now() < until2));
  await withScanner({ queueScanInterval: 400 }, above, async (s) => {
    s.start();
    await waitFor(() => above[0]!.deferredCalls >= 1, 1500, 'the first tick');
    await sleep(200);
    assert.ok(above[0]!.deferredCalls >= 5, `only ${above[0]!.deferredCalls} passes in 200 ms`);
  });
});

test('the channel list is refreshed every refresh interval', async () => {
  const first = fakes(5);
  const second = fakes(5);
  let list: ScanTarget[] = first;
  const s = new QueueScanner({ ...OPTS, queueScanInterval: 20, queueScanRefreshInterval: 150 }, () => list);
  try {
    s.start();
    await waitFor(() => first[0]!.inFlightCalls >= 1, 1000, 'the first list to be scanned');
    list = second;
    await waitFor(() => second[0]!.inFlightCalls >= 1, 1000, 'the new list to be picked up');
    const stale = first[0]!.inFlightCalls;
    await sleep(100);
    assert.equal(first[0]!.inFlightCalls, stale, 'the old list is no longer scanned');
  } finally {
    await s.stop();
  }
});

/**
 * Runs a setTimeout(0) probe for `ms`. Returns the largest gap between its
 * firings, and the most scanner visits (`visits()`) that happened between two
 * firings: the second does not depend on how busy the machine is.
 */
async function probe(ms: number, visits: () => number): Promise<{ maxGap: number; maxVisits: number; ticks: number }> {
  let last = performance.now();
  let lastVisits = visits();
  let maxGap = 0;
  let maxVisits = 0;
  let ticks = 0;
  const end = last + ms;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const v = visits();
      maxGap = Math.max(maxGap, now - last);
      maxVisits = Math.max(maxVisits, v - lastVisits);
      last = now;
      lastVisits = v;
      ticks++;
      if (now >= end) resolve();
      else setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
  });
  return { maxGap, maxVisits, ticks };
}

test('scanning 10,000 always-dirty channels does not stall the event loop', async () => {
  for (const selection of [20, 10000]) {
    // Every visit finds work and costs a little CPU, as a busy channel would. The work
    // dries up after 600 ms, so that a scanner that never yields stalls the probe
    // (and fails) instead of hanging the test.
    const dryAt = performance.now() + 600;
    let visits = 0;
    const busy = () => {
      visits++;
      const until = performance.now() + 0.02;
      while (performance.now() < until);
      return performance.now() < dryAt;
    };
    const targets = fakes(10000, () => new FakeChannel(busy));
    await withScanner({ queueScanInterval: 10, queueScanSelectionCount: selection }, targets, async (s) => {
      s.start();
      const r = await probe(300, () => visits);
      const what = `(selection ${selection}: ${visits} visits, probe fired ${r.ticks} times, max gap ${r.maxGap.toFixed(1)} ms, at most ${r.maxVisits} visits between firings)`;
      assert.ok(visits >= 200, `the scanner ran ${what}`);
      assert.ok(r.maxVisits <= 100, `the scanner holds the event loop for too many channels ${what}`);
      // Loose: a shared machine may deschedule the process for a while; a real stall is the whole run.
      assert.ok(r.maxGap < 200, `event loop stalled ${what}`);
      assert.ok(r.ticks >= 10, `the probe starved ${what}`);
    });
  }
});

test('stop() resolves promptly, while sleeping and in the middle of a long pass', async () => {
  const idle = new QueueScanner({ ...OPTS, queueScanInterval: 60000 }, () => fakes(3));
  idle.start();
  let t0 = performance.now();
  await idle.stop();
  assert.ok(performance.now() - t0 < 100, 'stop while sleeping');

  const until = performance.now() + 2000; // bounded, as above
  const targets = fakes(10000, () => new FakeChannel(() => performance.now() < until));
  const s = new QueueScanner({ ...OPTS, queueScanInterval: 5, queueScanSelectionCount: 10000 }, () => targets);
  s.start();
  await waitFor(() => targets.some((t) => t.inFlightCalls > 0), 1000, 'the scan to begin');
  t0 = performance.now();
  await s.stop();
  const took = performance.now() - t0;
  assert.ok(took < 100, `stop mid-pass took ${took.toFixed(0)} ms`);
  const visits = targets.reduce((n, t) => n + t.inFlightCalls, 0);
  await sleep(50);
  assert.equal(targets.reduce((n, t) => n + t.inFlightCalls, 0), visits, 'no work after stop()');
  assert.ok(visits < 10000, 'the pass was cut short');
});
