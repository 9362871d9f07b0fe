// --durable: an OK to PUB/MPUB/DPUB means the messages are fsynced, so a
// `kill -9` in the middle of a publishing load loses none of the
// acknowledged ones: every acknowledged message is received by a consumer,
// before the crash or after the restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runtimeName } from '../helpers/runtime.ts';
import { WireClient } from '../helpers/wire.ts';
import { consume, dpub, mpub, startNsqdProcess, stopClean, subscribe, tempDataPath } from './helpers.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test(`[${runtimeName}] --durable: kill -9 during a publishing load loses no acknowledged message`, async () => {
  const t = tempDataPath();
  let d = await startNsqdProcess(t.dir, ['--durable', '--mem-queue-size=10000', '--max-bytes-per-file=200000']);
  try {
    const acked = new Set<string>();
    const received = new Set<string>();
    // A consumer during the load: what it receives before the crash counts as received.
    const consumer = await subscribe(d.tcpPort, 'load', 'c', 50);
    const consuming = (async () => {
      try {
        for (;;) {
          const m = await consumer.readMessage(30_000);
          received.add(m.body);
          consumer.write(`FIN ${m.id}\n`);
        }
      } catch {
        // the server died
      }
    })();
    let stop = false;
    const publishers = Array.from({ length: 4 }, async (_, p) => {
      const c = await WireClient.connect(d.tcpPort);
      try {
        for (let seq = 0; !stop; seq++) {
          if (seq % 3 === 0) {
            const body = `p${p}-${seq}`;
            c.write(new Uint8Array([...new TextEncoder().encode(`PUB load\n`), 0, 0, 0, body.length, ...new TextEncoder().encode(body)]));
            await c.expectResponse('OK', 10_000);
            acked.add(body);
          } else {
            const batch = Array.from({ length: 20 }, (_, k) => `p${p}-${seq}-${k}`);
            await mpub(c, 'load', batch);
            for (const b of batch) acked.add(b);
          }
        }
      } catch {
        // the server died: the last command's OK never came, so its messages do not count
      } finally {
        c.destroy();
      }
    });
    // Let the load run, then kill the server in the middle of it.
    const deadline = performance.now() + 5000;
    while (acked.size < 3000 && performance.now() < deadline) await sleep(20);
    await sleep(100);
    const killedWith = acked.size;
    await d.kill9();
    stop = true;
    await Promise.all(publishers);
    await consuming;
    consumer.destroy();
    assert.ok(killedWith > 100, `the load ran (${killedWith} acknowledged before the kill)`);

    d = await startNsqdProcess(t.dir);
    assert.match(d.log(), /TCP: listening/);
    const c2 = await subscribe(d.tcpPort, 'load', 'c', 1000);
    const missing = () => [...acked].filter((b) => !received.has(b));
    const rest = await consume(c2, () => missing().length === 0, 15_000);
    for (const o of rest) received.add(o.msg.body);
    const lost = missing();
    assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${acked.size} acknowledged messages lost (received ${received.size}, ${rest.length} after the restart)`);
    c2.destroy();
    await stopClean(d);
  } finally {
    await d.kill9().catch(() => {});
    t.remove();
  }
});

test(`[${runtimeName}] --durable: DPUB keeps its due time through kill -9 and restart`, async () => {
  const t = tempDataPath();
  let d = await startNsqdProcess(t.dir, ['--durable']);
  try {
    const pub = await WireClient.connect(d.tcpPort);
    const due = Date.now() + 4000;
    await dpub(pub, 'later', 4000, 'tick');
    await mpub(pub, 'later', ['now-1', 'now-2']);
    pub.destroy();
    await d.kill9();
    d = await startNsqdProcess(t.dir);
    const c = await subscribe(d.tcpPort, 'later', 'c', 10);
    const got = await consume(c, (g) => g.length >= 3, 10_000);
    assert.deepEqual(got.map((o) => o.msg.body).sort(), ['now-1', 'now-2', 'tick']);
    const tick = got.find((o) => o.msg.body === 'tick')!;
    assert.ok(tick.at >= due - 150, `DPUB delivered ${due - tick.at} ms early`);
    c.destroy();
    await stopClean(d);
  } finally {
    await d.kill9().catch(() => {});
    t.remove();
  }
});

test(`[${runtimeName}] --durable: in-flight and REQ-deferred messages survive kill -9 (held on disk until FIN)`, async () => {
  const t = tempDataPath();
  let d = await startNsqdProcess(t.dir, ['--durable', '--sync-timeout=100ms']);
  try {
    const pub = await WireClient.connect(d.tcpPort);
    const c = await subscribe(d.tcpPort, 'held', 'c', 10);
    await mpub(pub, 'held', Array.from({ length: 10 }, (_, i) => `m-${i}`));
    const got = await consume(c, (g) => g.length >= 10, 10_000, false);
    assert.equal(got.length, 10);
    const byBody = new Map(got.map((o) => [o.msg.body, o.msg.id]));
    for (let i = 0; i < 4; i++) c.write(`FIN ${byBody.get(`m-${i}`)}\n`);
    const due = Date.now() + 3000;
    c.write(`REQ ${byBody.get('m-4')} 3000\n`);
    await sleep(600); // a few --sync-timeout periods: the FINs and the REQ's due time reach disk
    await d.kill9();
    c.destroy();
    pub.destroy();

    d = await startNsqdProcess(t.dir);
    const c2 = await subscribe(d.tcpPort, 'held', 'c', 10);
    const again = await consume(c2, (g) => g.length >= 6, 10_000);
    const bodies = again.map((o) => o.msg.body);
    assert.deepEqual([...bodies].sort(), ['m-4', 'm-5', 'm-6', 'm-7', 'm-8', 'm-9'], 'the unfinished ones, and only those');
    const m4 = again.find((o) => o.msg.body === 'm-4')!;
    assert.ok(m4.at >= due - 150, `REQ'd message came ${due - m4.at} ms before its due time`);
    c2.destroy();
    await stopClean(d);
  } finally {
    await d.kill9().catch(() => {});
    t.remove();
  }
});
