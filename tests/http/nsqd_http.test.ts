// nsqd's HTTP API through real HTTP (PROTOCOL.md 5.1-5.7, 5.9): every route,
// its success and its failures, with NSQ's exact status codes, bodies and
// headers. Messages published over HTTP are checked by consuming them over TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBackendQueue } from '../../core/nsqd/backend_queue.ts';
import { NSQD } from '../../core/nsqd/nsqd.ts';
import type { Topic } from '../../core/nsqd/topic.ts';
import { chunkedBody, get, http, JSON_CT, NSQ_V1, post, type HttpResult } from '../helpers/http.ts';
import { startNsqd, withNsqd, type TestNsqd } from '../helpers/nsqd.ts';
import { runtime } from '../helpers/runtime.ts';
import { readMessages } from '../helpers/wait.ts';
import { mpubBody } from '../helpers/wire.ts';


/** An NSQ V1 error: the status, {"message": text} and both headers. */
function assertError(r: HttpResult, status: number, text: string, what = ''): void {
  assert.equal(r.status, status, `${what} status (body ${r.text})`);
  assert.equal(r.text, JSON.stringify({ message: text }), `${what} body`);
  assert.equal(r.headers.get('content-type'), JSON_CT, `${what} content-type`);
  assert.equal(r.headers.get('x-nsq-content-type'), NSQ_V1, `${what} X-NSQ-Content-Type`);
}

/** 200 with an empty body and the NSQ header (admin routes). */
function assertEmptyOk(r: HttpResult, what = ''): void {
  assert.equal(r.status, 200, `${what} status (body ${r.text})`);
  assert.equal(r.text, '', `${what} body`);
  assert.equal(r.headers.get('x-nsq-content-type'), NSQ_V1, `${what} X-NSQ-Content-Type`);
}

/** 200 "OK" as text with the NSQ header (/pub, /mpub). */
function assertTextOk(r: HttpResult, what = ''): void {
  assert.equal(r.status, 200, `${what} status (body ${r.text})`);
  assert.equal(r.text, 'OK', `${what} body`);
  assert.equal(r.headers.get('x-nsq-content-type'), NSQ_V1, `${what} X-NSQ-Content-Type`);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain/, `${what} content-type`);
}

function topicOf(d: TestNsqd, name: string): Topic {
  const t = d.nsqd.getExistingTopic(name);
  assert.ok(t, `topic ${name} exists`);
  return t;
}

test('GET /ping: 200 OK as plain text, without the NSQ header', async () => {
  await withNsqd({}, async (d) => {
    const r = await get(d.httpPort, '/ping');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'OK');
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(r.headers.get('x-nsq-content-type'), null);
  });
});

/** A backend whose writes and empties fail, as a full disk would. */
class FailingBackend extends MemoryBackendQueue {
  override put(): void {
    throw new Error('disk full');
  }
  override async empty(): Promise<void> {
    throw new Error('cannot empty');
  }
}

test('GET /ping: 500 "NOK - <error>" after a failed backend write; a failing empty is 500 INTERNAL_ERROR', async () => {
  const nsqd = new NSQD(
    { tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', memQueueSize: 0 },
    { runtime: { ...runtime, storage: undefined }, newBackend: () => new FailingBackend() },
  );
  await nsqd.start();
  try {
    const port = nsqd.httpPort;
    await post(port, '/pub?topic=sick', 'x'); // (Go answers 503 here; nsq-ts answers OK and turns unhealthy)
    const ping = await get(port, '/ping');
    assert.equal(ping.status, 500);
    assert.equal(ping.text, 'NOK - disk full');
    assert.equal(ping.headers.get('x-nsq-content-type'), null);
    assertError(await post(port, '/topic/empty?topic=sick'), 500, 'INTERNAL_ERROR', '/topic/empty');
    assertEmptyOk(await post(port, '/channel/create?topic=sick&channel=c'));
    assertError(await post(port, '/channel/empty?topic=sick&channel=c'), 500, 'INTERNAL_ERROR', '/channel/empty');
  } finally {
    await nsqd.close();
  }
});

test('GET /info: version, addresses, ports and limits (durations in ns)', async () => {
  await withNsqd({ maxHeartbeatInterval: 45_000, maxOutputBufferTimeout: 1500, maxOutputBufferSize: 12345, maxDeflateLevel: 4, broadcastAddress: 'bcast.example', topologyZone: 'z1' }, async (d) => {
    const r = await get(d.httpPort, '/info');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), JSON_CT);
    assert.equal(r.headers.get('x-nsq-content-type'), NSQ_V1);
    const info = r.json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(info), [
      'version', 'broadcast_address', 'hostname', 'http_port', 'tcp_port', 'start_time', 'max_heartbeat_interval',
      'max_output_buffer_size', 'max_output_buffer_timeout', 'max_deflate_level', 'topology_zone', 'topology_region',
    ]);
    assert.equal(info.version, '1.3.0');
    assert.equal(info.broadcast_address, 'bcast.example');
    assert.equal(info.hostname, runtime.hostname());
    assert.equal(info.http_port, d.httpPort);
    assert.equal(info.tcp_port, d.port);
    assert.equal(info.start_time, d.nsqd.startTime);
    assert.ok(Math.abs((info.start_time as number) - Date.now() / 1000) < 60);
    assert.equal(info.max_heartbeat_interval, 45_000_000_000);
    assert.equal(info.max_output_buffer_size, 12345);
    assert.equal(info.max_output_buffer_timeout, 1_500_000_000);
    assert.equal(info.max_deflate_level, 4);
    assert.equal(info.topology_zone, 'z1');
    assert.equal(info.topology_region, '');
  });
  await withNsqd({}, async (d) => {
    const info = (await get(d.httpPort, '/info')).json() as Record<string, unknown>;
    assert.equal(info.broadcast_address, runtime.hostname(), 'broadcast_address defaults to the host name');
  });
});

test('POST /pub: 200 OK, the message reaches a consumer byte for byte', async () => {
  await withNsqd({}, async (d, connect) => {
    const c = await connect();
    await c.sub('hpub', 'ch', 10);
    const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
    assertTextOk(await post(d.httpPort, '/pub?topic=hpub', 'hello http'));
    assertTextOk(await post(d.httpPort, '/pub?topic=hpub', binary));
    const [m1, m2] = await readMessages(c, 2);
    assert.equal(m1!.body, 'hello http');
    assert.equal(m1!.attempts, 1);
    assert.match(m1!.id, /^[0-9a-f]{16}$/);
    assert.ok(Math.abs(Number(m1!.timestamp / 1_000_000n) - Date.now()) < 10_000, 'timestamp in ns since the epoch');
    assert.equal(m2!.body, new TextDecoder().decode(binary));
    const t = topicOf(d, 'hpub');
    assert.equal(t.messageCount, 2);
    assert.equal(t.messageBytes, 10 + 256);
  });
});

test('POST /pub: topic and body errors, each refused whole', async () => {
  await withNsqd({ maxMsgSize: 100, maxBodySize: 1000 }, async (d) => {
    const p = d.httpPort;
    assertError(await post(p, '/pub', 'x'), 400, 'MISSING_ARG_TOPIC');
    assertError(await post(p, '/pub?channel=x', 'x'), 400, 'MISSING_ARG_TOPIC');
    assertError(await post(p, '/pub?topic=bad!name', 'x'), 400, 'INVALID_TOPIC');
    assertError(await post(p, `/pub?topic=${'a'.repeat(65)}`, 'x'), 400, 'INVALID_TOPIC');
    assertError(await post(p, '/pub?topic=t%zz', 'x'), 400, 'INVALID_REQUEST', 'bad escape');
    assertError(await post(p, '/pub?topic=t;x=1', 'x'), 400, 'INVALID_REQUEST', 'semicolon');
    assertError(await post(p, '/pub?topic=empty'), 400, 'MSG_EMPTY');
    assertError(await post(p, '/pub?topic=empty', ''), 400, 'MSG_EMPTY');
    // Past --max-msg-size: by Content-Length, and chunked without one.
    assertError(await post(p, '/pub?topic=big', 'a'.repeat(101)), 413, 'MSG_TOO_BIG', 'Content-Length');
    assertError(await post(p, '/pub?topic=big', chunkedBody(3, 40)), 413, 'MSG_TOO_BIG', 'chunked');
    assertTextOk(await post(p, '/pub?topic=big', chunkedBody(2, 50)), 'chunked, exactly the limit');
    assertTextOk(await post(p, '/pub?topic=big', 'a'.repeat(100)), 'exactly the limit');
    assert.equal(topicOf(d, 'big').messageCount, 2, 'only the two messages within the limit');
    assert.equal(d.nsqd.getExistingTopic('empty'), undefined, 'MSG_EMPTY is answered before the topic is made');
    assert.deepEqual(d.nsqd.topicList().map((t) => t.name).sort(), ['big']);
    // Query values are URL-decoded as Go does: '+' is a space, %2E a dot.
    assertTextOk(await post(p, '/pub?topic=dot%2Etopic', 'x'));
    assert.ok(d.nsqd.getExistingTopic('dot.topic'));
    assertError(await post(p, '/pub?topic=a+b', 'x'), 400, 'INVALID_TOPIC', 'a space');
  });
});

test('POST /pub?defer=: deferred delivery, INVALID_DEFER for bad, negative or too long values', async () => {
  await withNsqd({ maxReqTimeout: 60_000, queueScanInterval: 20, queueScanRefreshInterval: 50 }, async (d, connect) => {
    const p = d.httpPort;
    const c = await connect();
    await c.sub('hdefer', 'ch', 10);
    const t0 = Date.now();
    assertTextOk(await post(p, '/pub?topic=hdefer&defer=300', 'later'));
    assertTextOk(await post(p, '/pub?topic=hdefer&defer=0', 'now'));
    const [first] = await readMessages(c, 1);
    assert.equal(first!.body, 'now');
    const ch = topicOf(d, 'hdefer').getExistingChannel('ch')!;
    assert.equal(ch.deferredCount(), 1, 'the deferred one waits in the deferred queue');
    const [later] = await readMessages(c, 1, 3000);
    assert.equal(later!.body, 'later');
    assert.ok(Date.now() - t0 >= 280, `delivered after its defer (${Date.now() - t0} ms)`);
    for (const bad of ['abc', '-1', '1.5', '', '60001', '99999999999999999999']) {
      assertError(await post(p, `/pub?topic=hdefer2&defer=${bad}`, 'x'), 400, 'INVALID_DEFER', `defer=${bad}`);
    }
    assert.equal(topicOf(d, 'hdefer2').messageCount, 0, 'nothing published (Go creates the topic first)');
    assertTextOk(await post(p, '/pub?topic=hdefer&defer=60000', 'max'), 'defer = --max-req-timeout is allowed');
  });
});

test('POST /pub to an exiting topic: 503 EXITING', async () => {
  await withNsqd({}, async (d) => {
    assertTextOk(await post(d.httpPort, '/pub?topic=exiting', 'x'));
    topicOf(d, 'exiting').exiting = true;
    assertError(await post(d.httpPort, '/pub?topic=exiting', 'x'), 503, 'EXITING');
    assertError(await post(d.httpPort, '/mpub?topic=exiting', 'a\nb'), 503, 'EXITING');
    assert.equal(topicOf(d, 'exiting').messageCount, 1);
  });
});

test('POST /mpub (text): one message per line, empty lines skipped, \\r kept', async () => {
  await withNsqd({}, async (d, connect) => {
    const c = await connect();
    await c.sub('hmpub', 'ch', 10);
    assertTextOk(await post(d.httpPort, '/mpub?topic=hmpub', 'one\ntwo\r\n\n\nthree\n'));
    const got = await readMessages(c, 3);
    assert.deepEqual(got.map((m) => m.body), ['one', 'two\r', 'three']);
    assertTextOk(await post(d.httpPort, '/mpub?topic=hmpub&binary=false', 'four'));
    assertTextOk(await post(d.httpPort, '/mpub?topic=hmpub&binary=0', 'five\nsix'));
    assert.deepEqual((await readMessages(c, 3)).map((m) => m.body), ['four', 'five', 'six']);
    assertTextOk(await post(d.httpPort, '/mpub?topic=hmpub', '\n\n'), 'no message at all is still OK');
    assertTextOk(await post(d.httpPort, '/mpub?topic=hmpub'), 'an empty body too');
    assert.equal(topicOf(d, 'hmpub').messageCount, 6);
    // All messages of one /mpub share a timestamp and get distinct ids.
    const ids = new Set(got.map((m) => m.id));
    assert.equal(ids.size, 3);
  });
});

test('POST /mpub?binary=true: NSQ\'s binary body; 1 and unknown values are binary too', async () => {
  await withNsqd({}, async (d, connect) => {
    const c = await connect();
    await c.sub('hbin', 'ch', 10);
    assertTextOk(await post(d.httpPort, '/mpub?topic=hbin&binary=true', mpubBody(['a\nb', 'c'])));
    assertTextOk(await post(d.httpPort, '/mpub?topic=hbin&binary=1', mpubBody(['d'])));
    assertTextOk(await post(d.httpPort, '/mpub?topic=hbin&binary=yes', mpubBody(['e'])), 'deprecated value: binary');
    assert.deepEqual((await readMessages(c, 4)).map((m) => m.body), ['a\nb', 'c', 'd', 'e']);
  });
});

test('POST /mpub errors: BODY_TOO_BIG, MSG_TOO_BIG, BAD_BODY, BAD_MESSAGE, topic errors; nothing published on error', async () => {
  await withNsqd({ maxMsgSize: 10, maxBodySize: 100 }, async (d) => {
    const p = d.httpPort;
    assertError(await post(p, '/mpub', 'a'), 400, 'MISSING_ARG_TOPIC');
    assertError(await post(p, '/mpub?topic=no!', 'a'), 400, 'INVALID_TOPIC');
    assertError(await post(p, '/mpub?topic=m%g0', 'a'), 400, 'INVALID_REQUEST');
    assertError(await post(p, '/mpub?topic=m', 'a\n'.repeat(51)), 413, 'BODY_TOO_BIG', 'Content-Length');
    assertError(await post(p, '/mpub?topic=m', chunkedBody(11, 10, 0x0a)), 413, 'BODY_TOO_BIG', 'chunked');
    assertError(await post(p, '/mpub?topic=m', `ok\n${'x'.repeat(11)}\nok`), 413, 'MSG_TOO_BIG');
    assertTextOk(await post(p, '/mpub?topic=m', `${'x'.repeat(10)}\n${'y'.repeat(10)}`), 'lines at exactly --max-msg-size');
    const bin = '/mpub?topic=m&binary=true';
    const i32 = (n: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, n); return b; };
    assertError(await post(p, bin, new Uint8Array([0, 0])), 413, 'BAD_BODY', 'no count');
    assertError(await post(p, bin, i32(0)), 413, 'BAD_BODY', 'count 0');
    assertError(await post(p, bin, i32(-1)), 413, 'BAD_BODY', 'count -1');
    assertError(await post(p, bin, i32(20)), 413, 'BAD_BODY', 'count > (max-body-size - 4) / 5');
    assertError(await post(p, bin, mpubBody(['ok', 'x'.repeat(11)])), 413, 'BAD_MESSAGE', 'message too big');
    const short = mpubBody(['ok', 'abc']).subarray(0, 15);
    assertError(await post(p, bin, short), 413, 'BAD_MESSAGE', 'short body');
    const zero = Uint8Array.from([...i32(2), ...i32(1), 0x61, ...i32(0)]);
    assertError(await post(p, bin, zero), 413, 'BAD_MESSAGE', 'empty message');
    assertError(await post(p, bin, i32(1)), 413, 'BAD_MESSAGE', 'count without messages');
    assert.equal(topicOf(d, 'm').messageCount, 2, 'only the good /mpub published');
  });
});

test('POST /topic/create, /topic/delete', async () => {
  await withNsqd({}, async (d) => {
    const p = d.httpPort;
    assertEmptyOk(await post(p, '/topic/create?topic=adm'));
    assert.ok(d.nsqd.getExistingTopic('adm'));
    assertEmptyOk(await post(p, '/topic/create?topic=adm'), 'create twice');
    assertError(await post(p, '/topic/create'), 400, 'MISSING_ARG_TOPIC');
    assertError(await post(p, '/topic/create?topic=a:b'), 400, 'INVALID_TOPIC');
    assertError(await post(p, '/topic/create?topic=%'), 400, 'INVALID_REQUEST');
    assertEmptyOk(await post(p, '/topic/delete?topic=adm'));
    assert.equal(d.nsqd.getExistingTopic('adm'), undefined);
    assertError(await post(p, '/topic/delete?topic=adm'), 404, 'TOPIC_NOT_FOUND');
    assertError(await post(p, '/topic/delete?topic=not!valid'), 404, 'TOPIC_NOT_FOUND', 'the name is not checked');
    assertError(await post(p, '/topic/delete'), 400, 'MISSING_ARG_TOPIC');
  });
});

test('POST /topic/empty, /topic/pause, /topic/unpause', async () => {
  await withNsqd({}, async (d, connect) => {
    const p = d.httpPort;
    for (const m of ['a', 'b', 'c']) assertTextOk(await post(p, '/pub?topic=tq', m));
    assert.equal(topicOf(d, 'tq').depth(), 3, 'a topic without channels holds its messages');
    assertEmptyOk(await post(p, '/topic/empty?topic=tq'));
    assert.equal(topicOf(d, 'tq').depth(), 0);
    assertError(await post(p, '/topic/empty?topic=nope'), 404, 'TOPIC_NOT_FOUND');
    assertError(await post(p, '/topic/empty?topic=no!pe'), 400, 'INVALID_TOPIC');
    assertError(await post(p, '/topic/empty'), 400, 'MISSING_ARG_TOPIC');

    const c = await connect();
    await c.sub('tq', 'ch', 10);
    assertEmptyOk(await post(p, '/topic/pause?topic=tq'));
    assert.equal(topicOf(d, 'tq').paused, true);
    assertEmptyOk(await post(p, '/topic/pause?topic=tq'), 'pausing twice is fine');
    assertTextOk(await post(p, '/pub?topic=tq', 'held'));
    await c.expectSilence(150);
    assert.equal(topicOf(d, 'tq').depth(), 1, 'held in the paused topic');
    assertEmptyOk(await post(p, '/topic/unpause?topic=tq'));
    assert.equal((await readMessages(c, 1))[0]!.body, 'held');
    assertError(await post(p, '/topic/pause?topic=nope'), 404, 'TOPIC_NOT_FOUND');
    assertError(await post(p, '/topic/unpause?topic=nope'), 404, 'TOPIC_NOT_FOUND');
    assertError(await post(p, '/topic/pause'), 400, 'MISSING_ARG_TOPIC');
  });
});

test('POST /channel/create, /channel/delete', async () => {
  await withNsqd({}, async (d, connect) => {
    const p = d.httpPort;
    assertError(await post(p, '/channel/create?topic=ct&channel=c'), 404, 'TOPIC_NOT_FOUND', 'the topic must exist');
    assertEmptyOk(await post(p, '/topic/create?topic=ct'));
    assertEmptyOk(await post(p, '/channel/create?topic=ct&channel=c'));
    assertEmptyOk(await post(p, '/channel/create?topic=ct&channel=c'), 'twice');
    assert.ok(topicOf(d, 'ct').getExistingChannel('c'));
    // A channel made over HTTP receives what is published from then on.
    assertTextOk(await post(p, '/pub?topic=ct', 'for c'));
    assert.equal(topicOf(d, 'ct').getExistingChannel('c')!.depth(), 1);
    assertError(await post(p, '/channel/create?channel=c'), 400, 'MISSING_ARG_TOPIC');
    assertError(await post(p, '/channel/create?topic=c!t&channel=c'), 400, 'INVALID_ARG_TOPIC');
    assertError(await post(p, '/channel/create?topic=ct'), 400, 'MISSING_ARG_CHANNEL');
    assertError(await post(p, '/channel/create?topic=ct&channel=c!'), 400, 'INVALID_ARG_CHANNEL');
    assertError(await post(p, '/channel/create?topic=ct&channel=c%'), 400, 'INVALID_REQUEST');

    const sub = await connect();
    await sub.sub('ct', 'c', 1);
    assertEmptyOk(await post(p, '/channel/delete?topic=ct&channel=c'));
    assert.equal(topicOf(d, 'ct').getExistingChannel('c'), undefined);
    await sub.expectClose(2000);
    assertError(await post(p, '/channel/delete?topic=ct&channel=c'), 404, 'CHANNEL_NOT_FOUND');
    assertError(await post(p, '/channel/delete?topic=zz&channel=c'), 404, 'TOPIC_NOT_FOUND');
    assertError(await post(p, '/channel/delete?topic=ct'), 400, 'MISSING_ARG_CHANNEL');
  });
});

test('POST /channel/empty, /channel/pause, /channel/unpause', async () => {
  await withNsqd({}, async (d, connect) => {
    const p = d.httpPort;
    assertEmptyOk(await post(p, '/topic/create?topic=ce'));
    assertEmptyOk(await post(p, '/channel/create?topic=ce&channel=c'));
    assertTextOk(await post(p, '/mpub?topic=ce', '1\n2\n3'));
    const ch = topicOf(d, 'ce').getExistingChannel('c')!;
    assert.equal(ch.depth(), 3);
    assertEmptyOk(await post(p, '/channel/empty?topic=ce&channel=c'));
    assert.equal(ch.depth(), 0);
    assertError(await post(p, '/channel/empty?topic=ce&channel=x'), 404, 'CHANNEL_NOT_FOUND');
    assertError(await post(p, '/channel/empty?topic=xx&channel=c'), 404, 'TOPIC_NOT_FOUND');

    assertEmptyOk(await post(p, '/channel/pause?topic=ce&channel=c'));
    assert.equal(ch.paused, true);
    const c = await connect();
    await c.sub('ce', 'c', 5);
    assertTextOk(await post(p, '/pub?topic=ce', 'held'));
    await c.expectSilence(150);
    assertEmptyOk(await post(p, '/channel/unpause?topic=ce&channel=c'));
    assert.equal(ch.paused, false);
    assert.equal((await readMessages(c, 1))[0]!.body, 'held');
    assertError(await post(p, '/channel/pause?topic=ce&channel=x'), 404, 'CHANNEL_NOT_FOUND');
    assertError(await post(p, '/channel/unpause?topic=ce&channel=x'), 404, 'CHANNEL_NOT_FOUND');
    assertError(await post(p, '/channel/pause?topic=ce&channel=x!'), 400, 'INVALID_ARG_CHANNEL');
  });
});

test('GET /config/:opt: NSQ\'s options by config key, in Go\'s representation', async () => {
  await withNsqd({ memQueueSize: 321, msgTimeout: 90_000, e2eProcessingLatencyPercentile: [0.99, 0.5], nodeId: 617 }, async (d) => {
    const p = d.httpPort;
    const value = async (opt: string) => {
      const r = await get(p, `/config/${opt}`);
      assert.equal(r.status, 200, `${opt}: ${r.text}`);
      assert.equal(r.headers.get('x-nsq-content-type'), NSQ_V1);
      return r;
    };
    const json = async (opt: string) => {
      const r = await value(opt);
      assert.equal(r.headers.get('content-type'), JSON_CT, `${opt} is JSON`);
      return r.json();
    };
    assert.equal(await json('mem_queue_size'), 321);
    assert.equal(await json('msg_timeout'), 90_000_000_000, 'durations in ns');
    assert.equal(await json('output_buffer_timeout'), 250_000_000);
    assert.equal(await json('id'), 617);
    assert.equal(await json('log_level'), 5, 'the test logger is at fatal: 5');
    assert.deepEqual(await json('nsqlookupd_tcp_addresses'), []);
    assert.deepEqual(await json('e2e_processing_latency_percentiles'), [0.99, 0.5]);
    assert.equal(await json('deflate'), true);
    assert.equal(await json('tls_required'), 0);
    assert.equal(await json('tls_min_version'), 0x0301);
    // A string value goes back as raw text, as Go's RespondV1 sends it.
    const tcp = await value('tcp_address');
    assert.equal(tcp.text, '127.0.0.1:0');
    assert.match(tcp.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal((await value('statsd_prefix')).text, 'nsq.%s');
    for (const opt of ['nope', 'client_timeout', 'queue_scan_interval', 'log_format', 'config', 'version', 'mem-queue-size']) {
      assertError(await get(p, `/config/${opt}`), 400, 'INVALID_OPTION', opt);
    }
  });
});

test('PUT /config/log_level and /config/nsqlookupd_tcp_addresses; other options are read-only', async () => {
  await withNsqd({}, async (d) => {
    const p = d.httpPort;
    const put = (opt: string, body?: string) => http(p, 'PUT', `/config/${opt}`, { body });
    try {
      const r = await put('log_level', 'DEBUG');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, '1', 'answers the new value as GET does');
      assert.equal(d.nsqd.logger.level, 'debug');
      assert.equal((await get(p, '/config/log_level')).text, '1');
      assertError(await put('log_level', 'loud'), 400, 'INVALID_VALUE');
      assertError(await put('log_level', 'info\n'), 400, 'INVALID_VALUE', 'no trimming, as Go');
      assertError(await put('log_level', ''), 413, 'INVALID_VALUE', 'empty body');
      assertError(await put('log_level'), 413, 'INVALID_VALUE', 'no body');
      assertError(await put('log_level', 'x'.repeat(d.nsqd.opts.maxMsgSize + 1)), 413, 'INVALID_VALUE', 'body over --max-msg-size');
    } finally {
      await put('log_level', 'fatal'); // the test logger is shared
    }
    const lookupd = await put('nsqlookupd_tcp_addresses', '[]');
    assert.equal(lookupd.status, 200, lookupd.text);
    assert.deepEqual(lookupd.json(), []);
    assertError(await put('nsqlookupd_tcp_addresses', 'not json'), 400, 'INVALID_VALUE');
    assertError(await put('nsqlookupd_tcp_addresses', '{"a":1}'), 400, 'INVALID_VALUE');
    assertError(await put('nsqlookupd_tcp_addresses', '[1]'), 400, 'INVALID_VALUE');
    assertError(await put('mem_queue_size', '5'), 400, 'INVALID_OPTION');
    assertError(await put('nope', '5'), 400, 'INVALID_OPTION');
    assert.equal(d.nsqd.opts.memQueueSize, 10000);
  });
});

test('unknown paths 404 NOT_FOUND, wrong methods 405 with Allow, OPTIONS, trailing slashes redirect', async () => {
  await withNsqd({}, async (d) => {
    const p = d.httpPort;
    assertError(await get(p, '/nope'), 404, 'NOT_FOUND');
    assertError(await post(p, '/topic/nope?topic=x'), 404, 'NOT_FOUND');
    assertError(await get(p, '/debug/pprof/'), 404, 'NOT_FOUND');
    const cases: [string, string, string][] = [
      ['GET', '/pub?topic=x', 'OPTIONS, POST'],
      ['PUT', '/mpub?topic=x', 'OPTIONS, POST'],
      ['GET', '/topic/create?topic=x', 'OPTIONS, POST'],
      ['DELETE', '/channel/delete?topic=x&channel=y', 'OPTIONS, POST'],
      ['POST', '/stats', 'GET, OPTIONS'],
      ['POST', '/ping', 'GET, OPTIONS'],
      ['POST', '/config/msg_timeout', 'GET, OPTIONS, PUT'],
      ['PATCH', '/info', 'GET, OPTIONS'],
    ];
    for (const [method, path, allow] of cases) {
      const r = await http(p, method, path);
      assertError(r, 405, 'METHOD_NOT_ALLOWED', `${method} ${path}`);
      assert.equal(r.headers.get('allow'), allow, `${method} ${path} Allow`);
    }
    assert.equal(d.nsqd.getExistingTopic('x'), undefined, 'a 405 does nothing');
    const opt = await http(p, 'OPTIONS', '/pub');
    assert.equal(opt.status, 200);
    assert.equal(opt.headers.get('allow'), 'OPTIONS, POST');
    const slash = await get(p, '/ping/');
    assert.equal(slash.status, 301);
    assert.equal(slash.headers.get('location'), '/ping');
    const postSlash = await post(p, '/pub/?topic=x', 'x');
    assert.equal(postSlash.status, 307);
    assert.equal(postSlash.headers.get('location'), '/pub?topic=x');
    const followed = await http(p, 'GET', '/stats/?format=json', { follow: true });
    assert.equal(followed.status, 200, 'the redirect leads to the route');
  });
});

test('--http-address "" disables HTTP; a runtime without serve fails clearly at start', async () => {
  const off = await startNsqd({ httpAddress: '' });
  try {
    assert.equal(off.httpPort, -1);
    assert.equal(off.nsqd.httpPort, -1);
  } finally {
    await off.close();
  }
  const noServe = { ...runtime, serve: undefined, storage: undefined };
  const nsqd = new NSQD({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' }, { runtime: noServe });
  await assert.rejects(nsqd.start(), /--http-address=127\.0\.0\.1:0: the \w+ runtime adapter has no HTTP server \(Runtime\.serve\); set --http-address="" to run without HTTP/);
  const tcpOnly = new NSQD({ tcpAddress: '127.0.0.1:0', httpAddress: '' }, { runtime: noServe });
  await tcpOnly.start();
  await tcpOnly.close();
});

test('the HTTP listener closes with nsqd, and keep-alive requests are served until then', async () => {
  const d = await startNsqd();
  const port = d.httpPort;
  for (let i = 0; i < 20; i++) assertTextOk(await post(port, '/pub?topic=ka', `m${i}`));
  assert.equal(topicOf(d, 'ka').messageCount, 20);
  await d.close();
  await assert.rejects(get(port, '/ping', { timeoutMs: 2000 }), 'nothing answers after close');
});
