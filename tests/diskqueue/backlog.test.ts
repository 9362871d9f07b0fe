// A disk that falls behind holds publishers instead of memory: the disk
// queue's write batch is bounded (backlogBytes), and nsqd answers PUB, MPUB
// and HTTP /pub only once a backlogged batch went to storage. Storage here is
// the runtime's real one, with writes held at a gate the test opens.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { get, post } from '../helpers/http.ts';
import { startNsqd } from '../helpers/nsqd.ts';
import { runtime } from '../helpers/runtime.ts';
import { waitFor } from '../helpers/wait.ts';
import { bytes, WireClient, withBody } from '../helpers/wire.ts';
import { gatedStorage, openQueue, payload, take, tempDir } from './helpers.ts';

/** Whether `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `p`'s value, or a failure naming `what` after `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  if (!(await settlesWithin(p, ms))) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
  return p;
}

test('disk queue: past backlogBytes put() signals once and drained() waits for the write', async () => {
  const tmp = tempDir();
  const { storage, gate } = gatedStorage(runtime.storage!);
  let backlogs = 0;
  const { q } = openQueue(tmp.dir, { storage, backlogBytes: 1000, onBacklog: () => backlogs++ });
  try {
    await q.opened;
    gate.shut();
    q.put(payload(0));
    await waitFor(() => gate.held() >= 1, 5000, 'the first write to reach storage');
    // 40 records of 34 bytes wait behind it: past 1,000 bytes the queue is backlogged, once.
    for (let i = 1; i <= 40; i++) q.put(payload(i));
    assert.equal(backlogs, 1);
    const drained = q.drained();
    assert.ok(drained !== undefined, 'backlogged');
    assert.equal(await settlesWithin(drained, 200), false, 'drained() must wait while the disk is stuck');
    gate.open();
    assert.equal(await settlesWithin(drained, 5000), true);
    assert.equal(q.drained(), undefined);
    const got = await take(q, 41);
    assert.deepEqual(got.map((r) => r[8]), Array.from({ length: 41 }, (_, i) => payload(i)[8]));
  } finally {
    gate.open();
    await q.close();
    tmp.remove();
  }
});

test('nsqd: PUB and HTTP /pub answer only once a backlogged disk queue wrote; others are served meanwhile', async () => {
  const { storage, gate } = gatedStorage(runtime.storage!);
  const d = await startNsqd({ memQueueSize: 0 }, { storage });
  const nsqd = d.nsqd;
  const clients: WireClient[] = [];
  const connect = async () => {
    const c = await WireClient.connect(nsqd.tcpAddress.port);
    clients.push(c);
    return c;
  };
  try {
    const body = new Uint8Array(100 * 1024).fill(0x61);
    const pub = await connect();
    await pub.pub('backlog', body); // creates the topic and its queue
    gate.shut();
    await pub.pub('backlog', body); // its write now waits at the gate
    await waitFor(() => gate.held() >= 1, 5000, 'a write held at the gate');
    // Three more: 300 KiB behind a stuck write, past the 256 KiB bound.
    pub.write(bytes(withBody('PUB backlog\n', body), withBody('PUB backlog\n', body), withBody('PUB backlog\n', body)));
    const oks = (async () => {
      for (let i = 0; i < 3; i++) await pub.expectResponse('OK', 10000);
    })();
    assert.equal(await settlesWithin(oks, 300), false, 'the OKs must wait for the disk');
    const httpPub = post(nsqd.httpPort, '/pub?topic=backlog', 'over http'); // the backlog is there by now
    assert.equal(await settlesWithin(httpPub, 200), false, 'HTTP /pub must wait for the disk');
    // Another client, publishing elsewhere or not at all, is not held by the gate.
    const other = await connect();
    other.write('NOP\n');
    await other.expectSilence(100);
    gate.open();
    await within(oks, 10000, 'the held OKs');
    assert.equal((await within(httpPub, 10000, 'the held HTTP /pub')).status, 200);
    // Nothing was lost: all six messages come out (the two publishers' in any order).
    const sub = await connect();
    await sub.sub('backlog', 'ch', 10);
    const sizes: number[] = [];
    for (let i = 0; i < 6; i++) sizes.push((await sub.readMessage(5000)).body.length);
    assert.deepEqual(sizes.sort((a, b) => a - b), [9, ...Array(5).fill(body.length)]);
  } finally {
    gate.open();
    for (const c of clients) c.destroy();
    await d.close();
  }
});

test('nsqd: a failing disk turns /ping NOK while publishers wait, and OK again once writes succeed; nothing is lost', async () => {
  const { storage, gate } = gatedStorage(runtime.storage!);
  const d = await startNsqd({ memQueueSize: 0 }, { storage });
  const nsqd = d.nsqd;
  const pub = await WireClient.connect(nsqd.tcpAddress.port);
  try {
    await pub.pub('full', 'before');
    gate.fail();
    const body = new Uint8Array(100 * 1024).fill(0x62);
    pub.write(bytes(withBody('PUB full\n', body), withBody('PUB full\n', body), withBody('PUB full\n', body), withBody('PUB full\n', body)));
    await waitFor(() => !nsqd.isHealthy(), 5000, 'nsqd to turn unhealthy');
    const ping = await get(nsqd.httpPort, '/ping');
    assert.equal(ping.status, 500);
    assert.match(ping.text, /^NOK - .*no space left/);
    gate.heal();
    // The queue retries every second; the held OKs come and nsqd is healthy again.
    for (let i = 0; i < 4; i++) await pub.expectResponse('OK', 10000);
    await waitFor(() => nsqd.isHealthy(), 5000, 'nsqd to be healthy again');
    assert.equal((await get(nsqd.httpPort, '/ping')).text, 'OK');
    const sub = await WireClient.connect(nsqd.tcpAddress.port);
    try {
      await sub.sub('full', 'ch', 10);
      const bodies: string[] = [];
      for (let i = 0; i < 5; i++) bodies.push((await sub.readMessage(5000)).body);
      assert.equal(bodies[0], 'before');
      assert.deepEqual(bodies.slice(1).map((b) => b.length), [body.length, body.length, body.length, body.length]);
    } finally {
      sub.destroy();
    }
  } finally {
    gate.heal();
    pub.destroy();
    await d.close();
  }
});
