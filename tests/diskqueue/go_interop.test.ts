// Data folders written by Go (each fixture's README.md says how):
// fixtures/go-nsqd/ by NSQ's own disk-queue and message code, driven as nsqd
// drives it; fixtures/go-nsqd-run/ by a running Go nsqd of the 1.3.0 code,
// through its HTTP and TCP APIs. The scenario is the same, the segment sizes
// differ (go-diskqueue v1.0 against v1.1.0), and the second holds a `.bad`
// segment Go set aside. nsq-ts nsqd, started on a copy of each as a real
// process, must report and deliver exactly what Go left: the topics, channels and paused flags of
// nsqd.dat, every queue's depth from its .meta.dat, and every record of the
// segment files (partly read segments, rolled segments, a segment already
// read to its end) in order, with Go's message IDs, attempts (one more) and
// bodies byte for byte, and Go's timestamps to the nanosecond (past 2^53, where
// a JS number would round them). expected.json lists each queue's records as
// Go's own diskqueue + decodeMessage read them back.
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startOnFreePorts, withTempDir, type Daemon } from '../helpers/daemon.ts';
import { get, post } from '../helpers/http.ts';
import { runtimeName } from '../helpers/runtime.ts';
import { FRAME_MESSAGE, WireClient } from '../helpers/wire.ts';

const FIXTURES = ['go-nsqd', 'go-nsqd-run'];

interface Expected {
  id: string;
  timestamp: string;
  attempts: number;
  body: string; // base64
}

type Queues = Record<string, { depth: number; messages: Expected[] }>;

function base64(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

const text = (e: Expected) => new TextDecoder().decode(Uint8Array.from(atob(e.body), (c) => c.charCodeAt(0)));

/** Starts nsq-ts nsqd (the entry point of the runtime running the tests) on a copy of Go's folder, with the flags Go ran with. */
async function withGoFolder(fixture: string, body: (d: Daemon) => Promise<void>): Promise<void> {
  await withTempDir('go-nsqd-', async (dir) => {
    for (const name of readdirSync(join(fixture, 'data-path'))) copyFileSync(join(fixture, 'data-path', name), join(dir, name));
    const d = await startOnFreePorts('nsqd', (tcp, http) => [
      `--data-path=${dir}`,
      `--tcp-address=${tcp}`,
      `--http-address=${http}`,
      '--mem-queue-size=0',
      '--max-bytes-per-file=1024',
    ]);
    try {
      await body(d);
    } finally {
      const exit = await d.stop();
      assert.equal(exit.code, 0, `[${runtimeName}] nsqd exit ${JSON.stringify(exit)}; log: ${d.log().slice(-2000)}`);
    }
    assert.doesNotMatch(d.log(), /\b(ERROR|WARN(ING)?|FATAL)\b/, `[${runtimeName}] nsqd log has errors or warnings: ${d.log().slice(-3000)}`);
  });
}

interface ChannelStats {
  channel_name: string;
  depth: number;
  backend_depth: number;
  in_flight_count: number;
  deferred_count: number;
  paused: boolean;
}
interface TopicStats {
  topic_name: string;
  depth: number;
  backend_depth: number;
  paused: boolean;
  channels: ChannelStats[];
}

async function stats(d: Daemon): Promise<TopicStats[]> {
  const res = await get(d.httpPort, '/stats?format=json');
  assert.equal(res.status, 200, res.text);
  return ((res.json() as { topics: TopicStats[] }).topics ?? []).slice().sort((a, b) => a.topic_name.localeCompare(b.topic_name));
}

/** topic -> { depth, paused, channels: { name -> [depth, paused] } } */
function shape(topics: TopicStats[]) {
  return Object.fromEntries(
    topics.map((t) => [
      t.topic_name,
      {
        depth: t.depth,
        paused: t.paused,
        channels: Object.fromEntries(t.channels.map((c) => [c.channel_name, { depth: c.depth, paused: c.paused, inFlight: c.in_flight_count, deferred: c.deferred_count }])),
      },
    ]),
  );
}

/** A record as delivered, in the form expected.json lists them. */
type Delivered = Expected;

/** The next message frame, its body as raw bytes (base64). */
async function readRaw(c: WireClient, ms = 5000): Promise<Delivered> {
  const f = await c.readNonHeartbeat(ms);
  if (f.type !== FRAME_MESSAGE) throw new Error(`expected a message, got type ${f.type} ${JSON.stringify(f.text)}`);
  const v = new DataView(f.data.buffer, f.data.byteOffset, f.data.byteLength);
  return {
    timestamp: v.getBigInt64(0).toString(),
    attempts: v.getUint16(8),
    id: new TextDecoder().decode(f.data.subarray(10, 26)),
    body: base64(f.data.subarray(26)),
  };
}

/** Reads `n` messages and FINs each. */
async function consume(c: WireClient, n: number): Promise<Delivered[]> {
  const out: Delivered[] = [];
  for (let i = 0; i < n; i++) {
    const m = await readRaw(c);
    out.push(m);
    c.write(`FIN ${m.id}\n`);
  }
  return out;
}

for (const name of FIXTURES) {
  const fixture = fileURLToPath(new URL(`./fixtures/${name}/`, import.meta.url));
  const queues = (JSON.parse(readFileSync(join(fixture, 'expected.json'), 'utf8')) as { queues: Queues }).queues;

  /** What a consumer must see for the records Go stored: the same record, attempts one more. */
  function assertDelivered(actual: Delivered[], queue: string): void {
    const stored = queues[queue]!.messages.map((m) => ({ id: m.id, timestamp: m.timestamp, attempts: m.attempts + 1, body: m.body }));
    assert.deepEqual(actual, stored, `[${runtimeName}] ${name} ${queue}: records`);
  }

  test(`${name}: nsqd.dat and every queue's metadata are read (topics, channels, paused flags, depths)`, { timeout: 120_000 }, async () => {
    // The fixture itself, as Go wrote it.
    assert.deepEqual(Object.fromEntries(Object.entries(queues).map(([k, v]) => [k, v.depth])), {
      events: 6,
      frozen: 2,
      'frozen:c1': 3,
      orders: 0,
      'orders:audit': 17,
      'orders:billing': 30,
    });
    await withGoFolder(fixture, async (d) => {
      assert.deepEqual(shape(await stats(d)), {
        events: { depth: 6, paused: false, channels: {} },
        frozen: { depth: 2, paused: true, channels: { c1: { depth: 3, paused: false, inFlight: 0, deferred: 0 } } },
        orders: {
          depth: 0,
          paused: false,
          channels: {
            audit: { depth: 17, paused: false, inFlight: 0, deferred: 0 },
            billing: { depth: 30, paused: true, inFlight: 0, deferred: 0 },
          },
        },
      });
    });
  });

  test(`${name}: every record is delivered in order with Go's IDs, timestamps, attempts and exact bodies`, { timeout: 120_000 }, async () => {
    await withGoFolder(fixture, async (d) => {
      const clients: WireClient[] = [];
      const connect = async () => {
        const c = await WireClient.connect(d.tcpPort);
        clients.push(c);
        return c;
      };
      try {
        // orders/audit: read from the middle of segment 1 on, through the
        // rolled segments 2 and 3; the REQ'd and the in-flight/deferred records
        // Go flushed at shutdown come last, attempts kept (delivered as 2).
        const audit = await connect();
        await audit.sub('orders', 'audit', 100);
        const gotAudit = await consume(audit, 17);
        assertDelivered(gotAudit, 'orders:audit');
        assert.deepEqual(gotAudit.map((m) => text(m).slice(0, 9)), [
          ...Array.from({ length: 13 }, (_, i) => `orders-${17 + i}`),
          'orders-15',
          'orders-13',
          'orders-14',
          'orders-16',
        ]);
        assert.deepEqual(gotAudit.map((m) => m.attempts), [...Array(13).fill(1), 2, 2, 2, 2]);
        await audit.expectSilence(300);

        // orders/billing: paused in nsqd.dat, so nothing until it is unpaused.
        const billing = await connect();
        await billing.sub('orders', 'billing', 100);
        await billing.expectSilence(500);
        assert.equal((await post(d.httpPort, '/channel/unpause?topic=orders&channel=billing')).status, 200);
        const gotBilling = await consume(billing, 30);
        assertDelivered(gotBilling, 'orders:billing');
        assert.deepEqual(gotBilling.map((m) => text(m).slice(0, 9)), Array.from({ length: 30 }, (_, i) => `orders-${String(i).padStart(2, '0')}`));
        await billing.expectSilence(300);

        // events: a topic without channels; the first channel gets its records,
        // including a 3000-byte one alone in its own segment, binary and UTF-8
        // bodies, and the formerly deferred one (Go kept no due time for it).
        const events = await connect();
        await events.sub('events', 'reader', 100);
        const gotEvents = await consume(events, 6);
        assertDelivered(gotEvents, 'events');
        assert.equal(text(gotEvents[0]!), 'hello from go nsqd');
        assert.deepEqual(
          Array.from(atob(gotEvents[1]!.body), (c) => c.charCodeAt(0)),
          Array.from({ length: 256 }, (_, i) => i),
        );
        assert.equal(text(gotEvents[2]!), 'multi\nline\r\nbody\n');
        assert.equal(text(gotEvents[3]!), 'utf-8: h\u00e9llo w\u00f6rld \u2713 \u{1F680}');
        assert.equal(atob(gotEvents[4]!.body).length, 3000);
        assert.equal(text(gotEvents[5]!), 'deferred 30s');
        // Writing goes on after Go's records (in Go's last segment or the next).
        assert.equal((await post(d.httpPort, '/pub?topic=events', 'published by nsq-ts')).status, 200);
        const after = await readRaw(events);
        assert.equal(text(after), 'published by nsq-ts');
        assert.equal(after.attempts, 1);
        events.write(`FIN ${after.id}\n`);

        // frozen: a paused topic; its channel c1 still delivers what Go had
        // moved to it, the topic's own records only once the topic is unpaused.
        const c1 = await connect();
        await c1.sub('frozen', 'c1', 100);
        const before = await consume(c1, 3);
        assertDelivered(before, 'frozen:c1');
        await c1.expectSilence(500);
        assert.equal((await post(d.httpPort, '/topic/unpause?topic=frozen')).status, 200);
        const afterUnpause = await consume(c1, 2);
        assertDelivered(afterUnpause, 'frozen');
        assert.deepEqual(afterUnpause.map(text), ['frozen-after-pause-0', 'frozen-after-pause-1']);

        // Everything FIN'd: nothing left anywhere.
        const deadline = Date.now() + 10_000;
        for (;;) {
          const s = shape(await stats(d));
          const left = Object.values(s).flatMap((t) => [t.depth, ...Object.values(t.channels).flatMap((c) => [c.depth, c.inFlight, c.deferred])]);
          if (left.every((n) => n === 0)) break;
          if (Date.now() > deadline) assert.fail(`[${runtimeName}] queues not drained: ${JSON.stringify(s)}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        for (const c of clients) c.destroy();
      }
    });
  });
}
