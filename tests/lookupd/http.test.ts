// nsqlookupd's HTTP API over real HTTP (PROTOCOL.md 6.4 and 5.1): every
// route, its errors, the exact JSON shapes and NSQ's V1 headers, inactive
// producers and tombstones. Producers are real V1 connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { http, peer, startLookupd, V1Client, type TestLookupd } from '../helpers/lookupd.ts';
import type { LookupdOptions } from '../../core/lookupd/options.ts';

const T = { timeout: 15_000 };
const JSON_TYPE = 'application/json; charset=utf-8';
const NSQ_TYPE = 'nsq; version=1.0';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function withLookupd(opts: Partial<LookupdOptions>, fn: (l: TestLookupd, producer: (body?: Record<string, unknown>) => Promise<V1Client>) => Promise<void>): Promise<void> {
  const l = await startLookupd(opts);
  const clients: V1Client[] = [];
  const producer = async (body: Record<string, unknown> = {}) => {
    const c = await V1Client.connect(l.tcpPort);
    clients.push(c);
    const r = await c.identify(peer(body));
    assert.match(r, /^\{/, 'IDENTIFY answered');
    return c;
  };
  try {
    await fn(l, producer);
  } finally {
    for (const c of clients) c.destroy();
    await l.close();
  }
}

async function getJson(url: string): Promise<unknown> {
  const r = await http(url);
  assert.equal(r.status, 200, `${url}: ${r.text}`);
  assert.equal(r.headers.get('content-type'), JSON_TYPE, `${url}: Content-Type`);
  assert.equal(r.headers.get('x-nsq-content-type'), NSQ_TYPE, `${url}: X-NSQ-Content-Type`);
  return r.json();
}

async function expectError(url: string, method: string, status: number, message: string): Promise<void> {
  const r = await http(url, method);
  assert.equal(r.status, status, `${method} ${url}: status (${r.text})`);
  assert.equal(r.text, JSON.stringify({ message }), `${method} ${url}: body`);
  assert.equal(r.headers.get('content-type'), JSON_TYPE, `${method} ${url}: Content-Type`);
  assert.equal(r.headers.get('x-nsq-content-type'), NSQ_TYPE, `${method} ${url}: X-NSQ-Content-Type`);
}

async function expectEmpty(url: string, method = 'POST'): Promise<void> {
  const r = await http(url, method);
  assert.equal(r.status, 200, `${method} ${url}: status (${r.text})`);
  assert.equal(r.text, '', `${method} ${url}: empty body`);
  assert.equal(r.headers.get('x-nsq-content-type'), NSQ_TYPE, `${method} ${url}: X-NSQ-Content-Type`);
}

const sorted = (a: unknown) => [...(a as string[])].sort();

test('GET /ping is plain OK; GET /info is {"version":"1.3.0"}', T, async () => {
  await withLookupd({}, async (l) => {
    const ping = await http(`${l.url}/ping`);
    assert.equal(ping.status, 200);
    assert.equal(ping.text, 'OK');
    assert.match(ping.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(ping.headers.get('x-nsq-content-type'), null, '/ping has no X-NSQ-Content-Type');
    const info = await http(`${l.url}/info`);
    assert.equal(info.text, '{"version":"1.3.0"}');
    assert.equal(info.headers.get('x-nsq-content-type'), NSQ_TYPE);
  });
});

test('GET /lookup: 400 without topic, 404 for an unknown topic, channels and active producers otherwise', T, async () => {
  await withLookupd({}, async (l, producer) => {
    await expectError(`${l.url}/lookup`, 'GET', 400, 'MISSING_ARG_TOPIC');
    await expectError(`${l.url}/lookup?topic=nope`, 'GET', 404, 'TOPIC_NOT_FOUND');
    await expectError(`${l.url}/lookup?topic=%zz`, 'GET', 400, 'INVALID_REQUEST');
    const a = await producer({ broadcast_address: 'host-a', tcp_port: 1001, http_port: 2001, hostname: 'ha', topology_zone: 'z' });
    const b = await producer({ broadcast_address: 'host-b', tcp_port: 1002, http_port: 2002, hostname: 'hb' });
    assert.equal(await a.command('REGISTER t c1'), 'OK');
    assert.equal(await b.command('REGISTER t c2'), 'OK');
    assert.equal(await b.command('REGISTER other'), 'OK');
    const r = await http(`${l.url}/lookup?topic=t`);
    const body = r.json() as { channels: string[]; producers: Record<string, unknown>[] };
    assert.deepEqual(Object.keys(body), ['channels', 'producers'], 'keys sorted as Go emits a map');
    assert.deepEqual(sorted(body.channels), ['c1', 'c2']);
    const pa = body.producers.find((p) => p.broadcast_address === 'host-a')!;
    assert.ok(pa, 'producer a listed');
    assert.deepEqual(Object.keys(pa), ['remote_address', 'hostname', 'broadcast_address', 'tcp_port', 'http_port', 'version', 'topology_zone', 'topology_region']);
    assert.match(pa.remote_address as string, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual({ ...pa, remote_address: '' }, { remote_address: '', hostname: 'ha', broadcast_address: 'host-a', tcp_port: 1001, http_port: 2001, version: '1.3.0', topology_zone: 'z', topology_region: '' });
    assert.equal(body.producers.length, 2);
    // a topic key with no producers: 200 with []
    a.destroy();
    b.destroy();
    const deadline = Date.now() + 2000;
    let after: { channels: string[]; producers: unknown[] };
    do {
      await sleep(10);
      after = (await getJson(`${l.url}/lookup?topic=t`)) as typeof after;
    } while (after.producers.length > 0 && Date.now() < deadline);
    assert.deepEqual(after.producers, [], 'disconnected producers are gone');
    assert.deepEqual(sorted(after.channels), ['c1', 'c2'], 'the channel keys stay');
  });
});

test('GET /topics and /channels list keys, [] when none', T, async () => {
  await withLookupd({}, async (l, producer) => {
    assert.deepEqual(await getJson(`${l.url}/topics`), { topics: [] });
    await expectError(`${l.url}/channels`, 'GET', 400, 'MISSING_ARG_TOPIC');
    assert.deepEqual(await getJson(`${l.url}/channels?topic=nope`), { channels: [] });
    const a = await producer();
    assert.equal(await a.command('REGISTER t1 c1'), 'OK');
    assert.equal(await a.command('REGISTER t1 c2'), 'OK');
    assert.equal(await a.command('REGISTER t2'), 'OK');
    const topics = (await getJson(`${l.url}/topics`)) as { topics: string[] };
    assert.deepEqual(sorted(topics.topics), ['t1', 't2']);
    const channels = (await getJson(`${l.url}/channels?topic=t1`)) as { channels: string[] };
    assert.deepEqual(sorted(channels.channels), ['c1', 'c2']);
    assert.deepEqual(await getJson(`${l.url}/channels?topic=t2`), { channels: [] });
  });
});

test('GET /nodes: active IDENTIFYed peers; topics and tombstones always the same length', T, async () => {
  await withLookupd({}, async (l, producer) => {
    assert.deepEqual(await getJson(`${l.url}/nodes`), { producers: [] });
    const a = await producer({ broadcast_address: 'host-a', http_port: 2001 });
    const b = await producer({ broadcast_address: 'host-b', http_port: 2002 });
    assert.equal(await a.command('REGISTER t1 c'), 'OK');
    assert.equal(await a.command('REGISTER t2'), 'OK');
    assert.equal(await b.command('REGISTER t2'), 'OK');
    await expectEmpty(`${l.url}/topic/tombstone?topic=t2&node=host-a:2001`);
    const body = (await getJson(`${l.url}/nodes`)) as { producers: Record<string, unknown>[] };
    assert.equal(body.producers.length, 2);
    for (const n of body.producers) {
      assert.deepEqual(Object.keys(n), ['remote_address', 'hostname', 'broadcast_address', 'tcp_port', 'http_port', 'version', 'topology_zone', 'topology_region', 'tombstones', 'topics']);
      assert.equal((n.tombstones as unknown[]).length, (n.topics as unknown[]).length, 'tombstones and topics have the same length');
    }
    const na = body.producers.find((n) => n.broadcast_address === 'host-a')!;
    const nb = body.producers.find((n) => n.broadcast_address === 'host-b')!;
    const pairs = (n: Record<string, unknown>) => (n.topics as string[]).map((t, i) => `${t}=${(n.tombstones as boolean[])[i]}`).sort();
    assert.deepEqual(pairs(na), ['t1=false', 't2=true'], 'a is tombstoned for t2 only, and still listed');
    assert.deepEqual(pairs(nb), ['t2=false']);
    // a peer that IDENTIFYed and registered nothing
    const c = await producer({ broadcast_address: 'host-c' });
    void c;
    const nc = ((await getJson(`${l.url}/nodes`)) as { producers: Record<string, unknown>[] }).producers.find((n) => n.broadcast_address === 'host-c')!;
    assert.deepEqual([nc.topics, nc.tombstones], [[], []]);
  });
});

test('inactive producers (no IDENTIFY/PING within the timeout) leave /lookup and /nodes; a PING brings them back', T, async () => {
  await withLookupd({ inactiveProducerTimeout: 400 }, async (l, producer) => {
    const a = await producer({ broadcast_address: 'host-a' });
    const b = await producer({ broadcast_address: 'host-b' });
    assert.equal(await a.command('REGISTER t'), 'OK');
    assert.equal(await b.command('REGISTER t'), 'OK');
    const listed = async () => {
      const lookup = (await getJson(`${l.url}/lookup?topic=t`)) as { producers: { broadcast_address: string }[] };
      const nodes = (await getJson(`${l.url}/nodes`)) as { producers: { broadcast_address: string }[] };
      return [lookup.producers.map((p) => p.broadcast_address).sort().join(','), nodes.producers.map((p) => p.broadcast_address).sort().join(',')];
    };
    assert.deepEqual(await listed(), ['host-a,host-b', 'host-a,host-b']);
    const t0 = Date.now();
    while (Date.now() - t0 < 700) {
      await sleep(100);
      assert.equal(await b.command('PING'), 'OK');
    }
    assert.deepEqual(await listed(), ['host-b', 'host-b'], 'a, silent for 700 ms, is inactive; b pinged');
    assert.equal(await a.command('PING'), 'OK');
    assert.deepEqual(await listed(), ['host-a,host-b', 'host-a,host-b'], 'a PING makes a active again');
  });
});

test('POST /topic/tombstone hides that producer from /lookup for the tombstone lifetime', T, async () => {
  await withLookupd({ tombstoneLifetime: 500 }, async (l, producer) => {
    await expectError(`${l.url}/topic/tombstone`, 'POST', 400, 'MISSING_ARG_TOPIC');
    await expectError(`${l.url}/topic/tombstone?topic=t`, 'POST', 400, 'MISSING_ARG_NODE');
    await expectEmpty(`${l.url}/topic/tombstone?topic=nope&node=x:1`);
    const a = await producer({ broadcast_address: 'host-a', http_port: 2001 });
    const b = await producer({ broadcast_address: 'host-b', http_port: 2002 });
    for (const c of [a, b]) {
      assert.equal(await c.command('REGISTER t'), 'OK');
      assert.equal(await c.command('REGISTER u'), 'OK');
    }
    const hosts = async (topic: string) =>
      ((await getJson(`${l.url}/lookup?topic=${topic}`)) as { producers: { broadcast_address: string }[] }).producers.map((p) => p.broadcast_address).sort();
    await expectEmpty(`${l.url}/topic/tombstone?topic=t&node=host-a:2002`); // address and port must both match
    assert.deepEqual(await hosts('t'), ['host-a', 'host-b']);
    const t0 = Date.now();
    await expectEmpty(`${l.url}/topic/tombstone?topic=t&node=host-a:2001`);
    assert.deepEqual(await hosts('t'), ['host-b'], 'a is hidden for t');
    assert.deepEqual(await hosts('u'), ['host-a', 'host-b'], 'but not for u');
    // re-REGISTER does not clear the tombstone
    assert.equal(await a.command('REGISTER t'), 'OK');
    if (Date.now() - t0 < 450) assert.deepEqual(await hosts('t'), ['host-b'], 'still hidden after a new REGISTER');
    await sleep(Math.max(0, 600 - (Date.now() - t0)));
    assert.deepEqual(await hosts('t'), ['host-a', 'host-b'], 'back after the tombstone lifetime');
  });
});

test('POST /topic/create, /topic/delete: keys without producers; delete takes the channels too', T, async () => {
  await withLookupd({}, async (l, producer) => {
    await expectError(`${l.url}/topic/create`, 'POST', 400, 'MISSING_ARG_TOPIC');
    await expectError(`${l.url}/topic/create?topic=a!b`, 'POST', 400, 'INVALID_ARG_TOPIC');
    await expectError(`${l.url}/topic/create?topic=`, 'POST', 400, 'INVALID_ARG_TOPIC');
    await expectEmpty(`${l.url}/topic/create?topic=made`);
    assert.deepEqual(await getJson(`${l.url}/topics`), { topics: ['made'] });
    assert.deepEqual(await getJson(`${l.url}/lookup?topic=made`), { channels: [], producers: [] });
    await expectError(`${l.url}/topic/delete`, 'POST', 400, 'MISSING_ARG_TOPIC');
    await expectEmpty(`${l.url}/topic/delete?topic=never-there`);
    const a = await producer();
    assert.equal(await a.command('REGISTER made c1'), 'OK');
    await expectEmpty(`${l.url}/channel/create?topic=made&channel=c2`);
    await expectEmpty(`${l.url}/topic/delete?topic=made`);
    assert.deepEqual(await getJson(`${l.url}/topics`), { topics: [] });
    assert.deepEqual(await getJson(`${l.url}/channels?topic=made`), { channels: [] });
    await expectError(`${l.url}/lookup?topic=made`, 'GET', 404, 'TOPIC_NOT_FOUND');
    const nodes = (await getJson(`${l.url}/nodes`)) as { producers: { topics: string[] }[] };
    assert.deepEqual(nodes.producers[0]!.topics, [], 'the producer no longer lists it');
    // the key comes back when the nsqd registers it again
    assert.equal(await a.command('REGISTER made c1'), 'OK');
    assert.deepEqual(await getJson(`${l.url}/topics`), { topics: ['made'] });
  });
});

test('POST /channel/create and /channel/delete: argument checks, keys, 404 for an unknown channel', T, async () => {
  await withLookupd({}, async (l) => {
    for (const [query, message] of [
      ['', 'MISSING_ARG_TOPIC'],
      ['?topic=a!b&channel=c', 'INVALID_ARG_TOPIC'],
      ['?topic=t', 'MISSING_ARG_CHANNEL'],
      ['?topic=t&channel=c!', 'INVALID_ARG_CHANNEL'],
      ['?topic=t&channel=', 'INVALID_ARG_CHANNEL'],
    ] as const) {
      await expectError(`${l.url}/channel/create${query}`, 'POST', 400, message);
      await expectError(`${l.url}/channel/delete${query}`, 'POST', 400, message);
    }
    await expectEmpty(`${l.url}/channel/create?topic=t&channel=c`);
    assert.deepEqual(await getJson(`${l.url}/topics`), { topics: ['t'] }, 'channel create makes the topic key too');
    assert.deepEqual(await getJson(`${l.url}/lookup?topic=t`), { channels: ['c'], producers: [] });
    await expectError(`${l.url}/channel/delete?topic=t&channel=nope`, 'POST', 404, 'CHANNEL_NOT_FOUND');
    await expectEmpty(`${l.url}/channel/delete?topic=t&channel=c`);
    assert.deepEqual(await getJson(`${l.url}/channels?topic=t`), { channels: [] });
    assert.deepEqual(await getJson(`${l.url}/topics`), { topics: ['t'] }, 'the topic stays');
  });
});

test('GET /debug: every key with producers, Go map order, nanosecond times', T, async () => {
  await withLookupd({}, async (l, producer) => {
    assert.deepEqual(await getJson(`${l.url}/debug`), {});
    const a = await producer({ broadcast_address: 'host-a', hostname: 'ha' });
    assert.equal(await a.command('REGISTER t c'), 'OK');
    await expectEmpty(`${l.url}/topic/create?topic=empty`);
    await expectEmpty(`${l.url}/topic/tombstone?topic=t&node=host-a:4151`);
    const r = await http(`${l.url}/debug`);
    const body = r.json() as Record<string, Record<string, unknown>[]>;
    assert.deepEqual(Object.keys(body), ['channel:t:c', 'client::', 'topic:t:'], 'keys sorted; keys with no producer absent');
    const entry = body['channel:t:c']![0]!;
    assert.deepEqual(Object.keys(entry), ['broadcast_address', 'hostname', 'http_port', 'id', 'last_update', 'tcp_port', 'tombstoned', 'tombstoned_at', 'topology_region', 'topology_zone', 'version']);
    assert.equal(entry.tombstoned, false);
    assert.match(r.text, /"tombstoned_at":-6795364578871345152/, "Go's zero time for a never-tombstoned entry");
    const lastUpdate = /"last_update":(\d+)/.exec(r.text)![1]!;
    assert.ok(lastUpdate.length >= 19 && lastUpdate.endsWith('000000'), `last_update in ns: ${lastUpdate}`);
    assert.ok(Math.abs(Number(BigInt(lastUpdate) / 1_000_000n) - Date.now()) < 10_000);
    assert.equal(body['topic:t:']![0]!.tombstoned, true);
  });
});

test('HTTP conventions: 404 NOT_FOUND, 405 with Allow, OPTIONS, trailing-slash redirects', T, async () => {
  await withLookupd({}, async (l) => {
    await expectError(`${l.url}/nope`, 'GET', 404, 'NOT_FOUND');
    await expectError(`${l.url}/lookup?topic=t`, 'POST', 405, 'METHOD_NOT_ALLOWED');
    await expectError(`${l.url}/topic/create?topic=t`, 'GET', 405, 'METHOD_NOT_ALLOWED');
    const r = await http(`${l.url}/topic/create`, 'GET');
    assert.equal(r.headers.get('allow'), 'OPTIONS, POST');
    const o = await http(`${l.url}/lookup`, 'OPTIONS');
    assert.equal(o.status, 200);
    assert.equal(o.headers.get('allow'), 'GET, OPTIONS');
    const red = await http(`${l.url}/topics/`);
    assert.equal(red.status, 301);
    assert.equal(red.headers.get('location'), '/topics');
    const red2 = await http(`${l.url}/topic/create/?topic=x`, 'POST');
    assert.equal(red2.status, 307);
    assert.equal(red2.headers.get('location'), '/topic/create?topic=x');
  });
});
