// Restarts of the real nsqd process: SIGTERM writes what memory holds
// (memory queues, in-flight and deferred messages) to disk and a restart
// delivers all of it again, deferred ones at their due time; two nsqd cannot
// share a data path, and a lock left by a killed one is taken over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runtimeName } from '../helpers/runtime.ts';
import { WireClient } from '../helpers/wire.ts';
import { consume, dpub, mpub, startNsqdProcess, stopClean, subscribe, tempDataPath } from './helpers.ts';

const bodies = (prefix: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${prefix}-${from + i}`);

test(`[${runtimeName}] SIGTERM, restart: queued, in-flight and deferred messages all come back, deferred ones at their due time`, async () => {
  const t = tempDataPath();
  let d = await startNsqdProcess(t.dir, ['--mem-queue-size=100']);
  try {
    const consumer = await subscribe(d.tcpPort, 't', 'c', 0);
    const pub = await WireClient.connect(d.tcpPort);
    const N = 1000;
    for (let i = 0; i < N; i += 100) await mpub(pub, 't', bodies('m', i, i + 100)); // 100 in memory, 900 on disk
    const DEFER_MS = 7000;
    const due = Date.now() + DEFER_MS;
    for (let k = 0; k < 3; k++) await dpub(pub, 't', DEFER_MS, `d-${k}`);
    // Take 350: FIN 300, keep 50 in flight.
    consumer.write('RDY 350\n');
    const first = await consume(consumer, (got) => got.length >= 350, 10_000, false);
    assert.equal(first.length, 350);
    for (const { msg } of first.slice(0, 300)) consumer.write(`FIN ${msg.id}\n`);
    const finished = new Set(first.slice(0, 300).map((o) => o.msg.body));
    const inFlight = new Set(first.slice(300).map((o) => o.msg.body));
    await new Promise((r) => setTimeout(r, 200)); // let the FINs land
    pub.destroy();
    await stopClean(d);
    consumer.destroy();
    assert.equal(readFileSync(join(t.dir, 'nsqd.dat'), 'utf8'), '{"topics":[{"name":"t","paused":false,"channels":[{"name":"c","paused":false}]}],"version":"1.3.0"}');
    assert.ok(!existsSync(join(t.dir, 'nsqd.lock')), 'lock released');

    d = await startNsqdProcess(t.dir, ['--mem-queue-size=100']);
    const c2 = await subscribe(d.tcpPort, 't', 'c', 1000);
    const restartedAt = Date.now();
    const want = N - 300 + 3;
    const second = await consume(c2, (got) => got.length >= want, DEFER_MS + 10_000);
    const got = second.map((o) => o.msg.body);
    assert.equal(got.length, want, `received ${got.length} of ${want}`);
    assert.equal(new Set(got).size, want, 'no duplicates');
    for (const b of got) assert.ok(!finished.has(b), `${b} was finished before the restart`);
    for (const b of bodies('m', 0, N)) if (!finished.has(b)) assert.ok(got.includes(b), `${b} is delivered again`);
    for (const o of second) if (inFlight.has(o.msg.body)) assert.equal(o.msg.attempts, 2, 'in-flight messages keep their attempts');
    const deferred = second.filter((o) => o.msg.body.startsWith('d-'));
    assert.equal(deferred.length, 3);
    for (const o of deferred) {
      assert.ok(o.at >= due - 150, `deferred ${o.msg.body} came ${due - o.at} ms before its due time (restart took ${restartedAt - (due - DEFER_MS)} ms)`);
      assert.ok(o.at <= due + 3000, `deferred ${o.msg.body} came ${o.at - due} ms after its due time`);
    }
    c2.destroy();
    await stopClean(d);
  } finally {
    await d.kill9().catch(() => {});
    t.remove();
  }
});

test(`[${runtimeName}] a topic without channels keeps its messages (memory and disk, deferred too) across a restart`, async () => {
  const t = tempDataPath();
  let d = await startNsqdProcess(t.dir, ['--mem-queue-size=50']);
  try {
    const pub = await WireClient.connect(d.tcpPort);
    await mpub(pub, 'lonely', bodies('x', 0, 200));
    await dpub(pub, 'lonely', 1500, 'late');
    pub.destroy();
    await stopClean(d);
    d = await startNsqdProcess(t.dir, ['--mem-queue-size=50']);
    const c = await subscribe(d.tcpPort, 'lonely', 'c', 500);
    const subscribedAt = Date.now();
    const got = await consume(c, (g) => g.length >= 201, 10_000);
    assert.deepEqual(got.map((o) => o.msg.body).sort(), [...bodies('x', 0, 200), 'late'].sort());
    // A topic-level deferral counts from the hand-over to the channel, as in NSQ.
    const late = got.find((o) => o.msg.body === 'late')!;
    assert.ok(late.at >= subscribedAt + 1300, `deferred message came ${late.at - subscribedAt} ms after the channel appeared`);
    c.destroy();
    await stopClean(d);
  } finally {
    await d.kill9().catch(() => {});
    t.remove();
  }
});

test(`[${runtimeName}] one data path, one nsqd; a lock left by a killed nsqd is taken over`, async () => {
  const t = tempDataPath();
  const d = await startNsqdProcess(t.dir);
  try {
    await assert.rejects(startNsqdProcess(t.dir), /cannot lock data path .*possibly in use by another instance of nsqd/);
    assert.equal((await d.kill9()).signal, 'SIGKILL');
    assert.ok(existsSync(join(t.dir, 'nsqd.lock')), 'the killed nsqd left its lock');
    const d2 = await startNsqdProcess(t.dir);
    try {
      assert.match(d2.log(), /stale lock/);
    } finally {
      await stopClean(d2);
    }
  } finally {
    await d.kill9().catch(() => {});
    t.remove();
  }
});
