// GET /stats field by field against PROTOCOL.md 5.8 (JSON and text), its
// filters, e2e processing latency percentiles (3.6), and GET /metrics parsed
// as Prometheus' text format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NsqdOptions } from '../../core/nsqd/options.ts';
import { get, JSON_CT, NSQ_V1, post } from '../helpers/http.ts';
import { startNsqd, type TestNsqd } from '../helpers/nsqd.ts';
import { runtimeName } from '../helpers/runtime.ts';
import { readMessages, sleep, waitFor } from '../helpers/wait.ts';
import { WireClient, type WireMessage } from '../helpers/wire.ts';

type Obj = Record<string, unknown>;

const TOP_KEYS = ['version', 'health', 'start_time', 'topics', 'memory', 'producers'];
const TOPIC_KEYS = ['topic_name', 'channels', 'depth', 'backend_depth', 'message_count', 'message_bytes', 'paused', 'e2e_processing_latency'];
const CHANNEL_KEYS = ['channel_name', 'depth', 'backend_depth', 'in_flight_count', 'deferred_count', 'message_count', 'requeue_count',
  'timeout_count', 'client_count', 'clients', 'paused', 'e2e_processing_latency'];
const CLIENT_KEYS = ['client_id', 'hostname', 'version', 'remote_address', 'state', 'ready_count', 'in_flight_count', 'message_count',
  'finish_count', 'requeue_count', 'connect_ts', 'sample_rate', 'deflate', 'snappy', 'user_agent', 'topology_zone', 'topology_region',
  'tls', 'tls_cipher_suite', 'tls_version', 'tls_negotiated_protocol', 'tls_negotiated_protocol_is_mutual'];
const PRODUCER_KEYS = [...CLIENT_KEYS.slice(0, CLIENT_KEYS.indexOf('tls')), 'pub_counts', ...CLIENT_KEYS.slice(CLIENT_KEYS.indexOf('tls'))];
const MEMORY_KEYS = ['heap_objects', 'heap_idle_bytes', 'heap_in_use_bytes', 'heap_released_bytes', 'gc_pause_usec_100',
  'gc_pause_usec_99', 'gc_pause_usec_95', 'next_gc_bytes', 'gc_total_runs'];
const E2E_OFF = { count: 0, percentiles: null };

/** Go's %-Nd / %-Ns. */
const pad = (v: string | number, n: number) => String(v).padEnd(n);

interface Scene {
  d: TestNsqd;
  consumer: WireClient;
  producer: WireClient;
  /** Messages the consumer holds in flight. */
  held: WireMessage[];
  close(): Promise<void>;
}

/**
 * t2 (made first, one HTTP message, no channel); t1 with channels c2 (made
 * first, by the SUB of an identified consumer at RDY 1 that FINed one
 * message and holds the next) and c1 (made over HTTP, no consumer); a TCP
 * producer that PUB-ed 5 messages to t1.
 */
async function scene(opts: Partial<NsqdOptions> = {}): Promise<Scene> {
  const d = await startNsqd(opts);
  const p = d.httpPort;
  assert.equal((await post(p, '/pub?topic=t2', 'http message')).status, 200);
  const consumer = await WireClient.connect(d.port);
  const f = await consumer.identify({ client_id: 'cid', hostname: 'host.example', user_agent: 'myapp/1.0', feature_negotiation: true });
  assert.equal(f.type, 0, f.text);
  await consumer.sub('t1', 'c2', 1);
  assert.equal((await post(p, '/channel/create?topic=t1&channel=c1')).status, 200);
  const producer = await WireClient.connect(d.port);
  for (const body of ['m1', 'm2', 'm3', 'm4', 'msg5']) await producer.pub('t1', body);
  const [first] = await readMessages(consumer, 1);
  consumer.write(`FIN ${first!.id}\n`);
  const held = await readMessages(consumer, 1);
  return {
    d, consumer, producer, held,
    async close() {
      consumer.destroy();
      producer.destroy();
      await d.close();
    },
  };
}

async function statsJson(d: TestNsqd, query = ''): Promise<Obj> {
  const r = await get(d.httpPort, `/stats?format=json${query}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('content-type'), JSON_CT);
  assert.equal(r.headers.get('x-nsq-content-type'), NSQ_V1);
  return r.json() as Obj;
}

test('GET /stats?format=json: every field of section 5.8, in Go\'s order', async () => {
  const s = await scene();
  try {
    const stats = await statsJson(s.d);
    assert.deepEqual(Object.keys(stats), TOP_KEYS);
    assert.equal(stats.version, '1.3.0');
    assert.equal(stats.health, 'OK');
    assert.equal(stats.start_time, s.d.nsqd.startTime);

    const topics = stats.topics as Obj[];
    assert.deepEqual(topics.map((t) => t.topic_name), ['t1', 't2'], 'topics sorted by name');
    for (const t of topics) assert.deepEqual(Object.keys(t), TOPIC_KEYS, `keys of topic ${t.topic_name}`);
    const [t1, t2] = topics as [Obj, Obj];
    assert.deepEqual({ ...t1, channels: undefined }, {
      topic_name: 't1', channels: undefined, depth: 0, backend_depth: 0, message_count: 5, message_bytes: 12, paused: false, e2e_processing_latency: E2E_OFF,
    });
    assert.deepEqual(t2, {
      topic_name: 't2', channels: [], depth: 1, backend_depth: 0, message_count: 1, message_bytes: 12, paused: false, e2e_processing_latency: E2E_OFF,
    });

    const channels = t1.channels as Obj[];
    assert.deepEqual(channels.map((c) => c.channel_name), ['c1', 'c2'], 'channels sorted by name');
    for (const c of channels) assert.deepEqual(Object.keys(c), CHANNEL_KEYS, `keys of channel ${c.channel_name}`);
    const [c1, c2] = channels as [Obj, Obj];
    assert.deepEqual(c1, {
      channel_name: 'c1', depth: 5, backend_depth: 0, in_flight_count: 0, deferred_count: 0, message_count: 5, requeue_count: 0,
      timeout_count: 0, client_count: 0, clients: [], paused: false, e2e_processing_latency: E2E_OFF,
    });
    assert.deepEqual({ ...c2, clients: undefined }, {
      channel_name: 'c2', depth: 3, backend_depth: 0, in_flight_count: 1, deferred_count: 0, message_count: 5, requeue_count: 0,
      timeout_count: 0, client_count: 1, clients: undefined, paused: false, e2e_processing_latency: E2E_OFF,
    });

    const clients = c2.clients as Obj[];
    assert.equal(clients.length, 1);
    const client = clients[0]!;
    assert.deepEqual(Object.keys(client), CLIENT_KEYS, 'a consumer has no pub_counts, authed or auth_identity*');
    assert.match(client.remote_address as string, /^127\.0\.0\.1:\d+$/);
    assert.ok(Math.abs((client.connect_ts as number) - Date.now() / 1000) < 60, 'connect_ts in Unix seconds');
    assert.deepEqual({ ...client, remote_address: undefined, connect_ts: undefined }, {
      client_id: 'cid', hostname: 'host.example', version: 'V2', remote_address: undefined, state: 3, ready_count: 1,
      in_flight_count: 1, message_count: 2, finish_count: 1, requeue_count: 0, connect_ts: undefined, sample_rate: 0,
      deflate: false, snappy: false, user_agent: 'myapp/1.0', topology_zone: '', topology_region: '', tls: false,
      tls_cipher_suite: '', tls_version: '', tls_negotiated_protocol: '', tls_negotiated_protocol_is_mutual: false,
    });

    const memory = stats.memory as Obj;
    assert.deepEqual(Object.keys(memory), MEMORY_KEYS);
    for (const k of MEMORY_KEYS) assert.ok(Number.isInteger(memory[k]) && (memory[k] as number) >= 0, `memory.${k} is a count`);
    assert.ok((memory.heap_in_use_bytes as number) > 0, 'heap_in_use_bytes is filled from the runtime');

    const producers = stats.producers as Obj[];
    assert.equal(producers.length, 1, 'only the TCP connection that published (not HTTP, not the consumer)');
    const producer = producers[0]!;
    assert.deepEqual(Object.keys(producer), PRODUCER_KEYS);
    assert.equal(producer.client_id, '127.0.0.1', 'client_id defaults to the remote IP');
    assert.equal(producer.hostname, '127.0.0.1');
    assert.equal(producer.state, 0);
    assert.equal(producer.message_count, 0);
    assert.deepEqual(producer.pub_counts, [{ topic: 't1', count: 5 }]);
    assert.notEqual(producer.remote_address, client.remote_address);
  } finally {
    await s.close();
  }
});

test('GET /stats filters: topic, channel, include_clients, include_mem', async () => {
  const s = await scene();
  try {
    const names = (st: Obj) => (st.topics as Obj[] | null)?.map((t) => [t.topic_name, (t.channels as Obj[]).map((c) => c.channel_name)]);
    let st = await statsJson(s.d, '&topic=t1');
    assert.deepEqual(names(st), [['t1', ['c1', 'c2']]]);
    assert.deepEqual((st.producers as Obj[])[0]!.pub_counts, [{ topic: 't1', count: 5 }]);
    st = await statsJson(s.d, '&topic=t2');
    assert.deepEqual(names(st), [['t2', []]]);
    assert.equal((st.producers as Obj[])[0]!.pub_counts, undefined, 'pub_counts filtered to the topic: nothing left, omitted');
    st = await statsJson(s.d, '&topic=none');
    assert.equal(st.topics, null, 'a topic filter naming no topic gives null');
    st = await statsJson(s.d, '&channel=c2');
    assert.deepEqual(names(st), [['t1', ['c2']]], 'a channel filter drops topics without that channel');
    st = await statsJson(s.d, '&topic=t1&channel=c1');
    assert.deepEqual(names(st), [['t1', ['c1']]]);
    st = await statsJson(s.d, '&channel=none');
    assert.deepEqual(st.topics, []);

    st = await statsJson(s.d, '&include_clients=false');
    const c2 = ((st.topics as Obj[])[0]!.channels as Obj[])[1]!;
    assert.equal(c2.clients, null, 'clients: null');
    assert.equal(c2.client_count, 1, 'client_count is still there');
    assert.equal(st.producers, null);
    for (const v of ['0', 'false']) assert.equal((await statsJson(s.d, `&include_clients=${v}`)).producers, null, v);
    for (const v of ['1', 'true', 'bogus', '']) assert.equal(((await statsJson(s.d, `&include_clients=${v}`)).producers as Obj[]).length, 1, v);

    st = await statsJson(s.d, '&include_mem=false');
    assert.deepEqual(Object.keys(st), ['version', 'health', 'start_time', 'topics', 'producers'], 'memory omitted');
    assert.ok('memory' in (await statsJson(s.d, '&include_mem=maybe')), 'unrecognised values mean true');

    const text = await get(s.d.httpPort, '/stats?format=JSON');
    assert.match(text.text, /^nsqd v1\.3\.0/, 'only the exact value json selects JSON');
    const bad = await get(s.d.httpPort, '/stats?format=json&topic=%zz');
    assert.equal(bad.status, 400);
    assert.equal(bad.text, '{"message":"INVALID_REQUEST"}');
  } finally {
    await s.close();
  }
});

test('GET /stats (text): Go nsqd\'s layout, line by line', async () => {
  const s = await scene();
  try {
    await post(s.d.httpPort, '/topic/pause?topic=t2');
    await post(s.d.httpPort, '/channel/pause?topic=t1&channel=c1');
    const r = await get(s.d.httpPort, '/stats');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(r.headers.get('x-nsq-content-type'), NSQ_V1);
    const lines = r.text.split('\n');
    const stats = await statsJson(s.d);
    const client = (((stats.topics as Obj[])[0]!.channels as Obj[])[1]!.clients as Obj[])[0]!;
    const producer = (stats.producers as Obj[])[0]!;
    const port = (a: unknown) => String(a).split(':')[1]!;
    const expected: (string | RegExp)[] = [
      `nsqd v1.3.0 (built w/nsq-ts on ${runtimeName})`,
      /^start_time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/,
      /^uptime (\d+(\.\d+)?(ms|s)|\d+m[\d.]+s)$/,
      '',
      'Health: OK',
      '',
      'Memory:',
      ...MEMORY_KEYS.map((k) => new RegExp(`^   ${pad(k, 25)}\\t\\d+$`)),
      '',
      'Topics:',
      `   [${pad('t1', 15)}] depth: ${pad(0, 5)} be-depth: ${pad(0, 5)} msgs: ${pad(5, 8)} e2e%: `,
      `   *P [${pad('c1', 25)}] depth: ${pad(5, 5)} be-depth: ${pad(0, 5)} inflt: ${pad(0, 4)} def: ${pad(0, 4)} re-q: ${pad(0, 5)} timeout: ${pad(0, 5)} msgs: ${pad(5, 8)} e2e%: `,
      `      [${pad('c2', 25)}] depth: ${pad(3, 5)} be-depth: ${pad(0, 5)} inflt: ${pad(1, 4)} def: ${pad(0, 4)} re-q: ${pad(0, 5)} timeout: ${pad(0, 5)} msgs: ${pad(5, 8)} e2e%: `,
      new RegExp(`^        \\[V2 ${pad(`host.example:${port(client.remote_address)} myapp/1.0`, 21)}\\] state: 3 inflt: ${pad(1, 4)} rdy: ${pad(1, 4)} ` +
        `fin: ${pad(1, 8)} re-q: ${pad(0, 8)} msgs: ${pad(2, 8)} connected: \\d+s$`),
      '',
      `*P [${pad('t2', 15)}] depth: ${pad(1, 5)} be-depth: ${pad(0, 5)} msgs: ${pad(1, 8)} e2e%: `,
      '',
      'Producers:',
      new RegExp(`^   \\[V2 ${pad(`127.0.0.1:${port(producer.remote_address)} `, 21)}\\] msgs: ${pad(5, 8)} topics: t1=5 connected: \\d+s$`),
      '',
    ];
    assert.equal(lines.length, expected.length, `line count of:\n${r.text}`);
    expected.forEach((e, i) => {
      if (typeof e === 'string') assert.equal(lines[i], e, `line ${i + 1}`);
      else assert.match(lines[i]!, e, `line ${i + 1}`);
    });

    const empty = await startNsqd();
    try {
      const t = (await get(empty.httpPort, '/stats?include_mem=false')).text;
      assert.match(t, /\n\nHealth: OK\n\nTopics: None\n\nProducers: None\n$/);
      assert.doesNotMatch(t, /Memory:/);
    } finally {
      await empty.close();
    }
  } finally {
    await s.close();
  }
});

/** Consumes `n` messages of t/ch at RDY n and FINs message i about `stepMs`·i ms after it arrived. */
async function finStaggered(c: WireClient, n: number, stepMs: number): Promise<void> {
  const msgs = await readMessages(c, n);
  for (const m of msgs) {
    await sleep(stepMs);
    c.write(`FIN ${m.id}\n`);
  }
}

test('e2e_processing_latency: percentiles from --e2e-processing-latency-percentile, per channel and merged per topic', async () => {
  const d = await startNsqd({ e2eProcessingLatencyPercentile: [1, 0.99, 0.5], e2eProcessingLatencyWindowTime: 60_000 });
  const c = await WireClient.connect(d.port);
  const idle = await WireClient.connect(d.port);
  try {
    await c.sub('lat', 'busy', 10);
    await idle.sub('lat', 'idle');
    await post(d.httpPort, '/topic/create?topic=lonely');
    const t0 = Date.now();
    assert.equal((await post(d.httpPort, '/mpub?topic=lat', Array.from({ length: 10 }, (_, i) => `m${i}`).join('\n'))).status, 200);
    await finStaggered(c, 10, 10);
    const ch = d.nsqd.getExistingTopic('lat')!.getExistingChannel('busy')!;
    await waitFor(() => ch.inFlightCount() === 0, 2000, 'the FINs');
    const elapsedNs = (Date.now() - t0 + 5) * 1e6;

    const stats = await statsJson(d);
    const lat = (stats.topics as Obj[]).find((t) => t.topic_name === 'lat')!;
    const [busy, idleCh] = lat.channels as Obj[];
    const e2e = busy!.e2e_processing_latency as { count: number; percentiles: { quantile: number; value: number }[] };
    assert.deepEqual(Object.keys(e2e), ['count', 'percentiles']);
    assert.equal(e2e.count, 10);
    assert.deepEqual(e2e.percentiles.map((p) => p.quantile), [1, 0.99, 0.5], 'in the configured (descending) order');
    for (const p of e2e.percentiles) assert.deepEqual(Object.keys(p), ['quantile', 'value']);
    const [p100, p99, p50] = e2e.percentiles.map((p) => p.value) as [number, number, number];
    assert.ok(p100 >= 95e6 && p100 <= elapsedNs, `max ${p100} ns: the last FIN came >= 100 ms after publishing`);
    assert.ok(p99 <= p100 && p99 >= 80e6, `p99 ${p99} ns`);
    assert.ok(p50 >= 35e6 && p50 <= 80e6, `p50 ${p50} ns: about the 5th of 10 FINs spaced 10 ms`);
    assert.deepEqual(idleCh!.e2e_processing_latency, {
      count: 0, percentiles: [{ quantile: 1, value: 0 }, { quantile: 0.99, value: 0 }, { quantile: 0.5, value: 0 }],
    }, 'enabled but empty: one entry per percentile with value 0');
    const topicE2e = lat.e2e_processing_latency as typeof e2e;
    assert.equal(topicE2e.count, 10, 'the topic merges its channels');
    assert.equal(topicE2e.percentiles[0]!.value, p100);
    const lonely = (stats.topics as Obj[]).find((t) => t.topic_name === 'lonely')!;
    assert.deepEqual(lonely.e2e_processing_latency, E2E_OFF, 'a topic without channels reports null percentiles');

    const text = (await get(d.httpPort, '/stats')).text;
    assert.match(text, /\n   \[lat\s+\] .* e2e%: \d+\.\dms, \d+\.\dms, \d+\.\dms\n/, 'topic line with three percentiles');
    assert.match(text, /\n      \[busy\s+\] .* e2e%: \d+\.\dms, \d+\.\dms, \d+\.\dms\n/);
    assert.match(text, /\n      \[idle\s+\] .* e2e%: 0\.0ns, 0\.0ns, 0\.0ns\n/);
  } finally {
    c.destroy();
    idle.destroy();
    await d.close();
  }
});

test('e2e_processing_latency forgets FINs older than --e2e-processing-latency-window-time', async () => {
  const d = await startNsqd({ e2eProcessingLatencyPercentile: [0.5], e2eProcessingLatencyWindowTime: 400 });
  const c = await WireClient.connect(d.port);
  try {
    await c.sub('win', 'ch', 5);
    await post(d.httpPort, '/mpub?topic=win', 'a\nb\nc');
    await finStaggered(c, 3, 0);
    const e2eOf = async () => ((((await statsJson(d, '&topic=win')).topics as Obj[])[0]!.channels as Obj[])[0]!.e2e_processing_latency as { count: number });
    await waitFor(() => d.nsqd.getExistingTopic('win')!.getExistingChannel('ch')!.inFlightCount() === 0, 2000, 'the FINs');
    assert.equal((await e2eOf()).count, 3);
    await sleep(900);
    assert.equal((await e2eOf()).count, 0, 'both half-windows rotated out');
  } finally {
    c.destroy();
    await d.close();
  }
});

// ---- /metrics

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus' text format strictly enough to fail on anything malformed. */
function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helped = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$/.exec(line);
    if (m) {
      assert.ok(!helped.has(m[1]!), `one HELP for ${m[1]}`);
      helped.add(m[1]!);
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter|summary|histogram|untyped)$/.exec(line);
    if (m) {
      assert.ok(helped.has(m[1]!), `HELP before TYPE for ${m[1]}`);
      types.set(m[1]!, m[2]!);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+]+|NaN|\+Inf|-Inf)$/.exec(line);
    assert.ok(m, `a sample line: ${JSON.stringify(line)}`);
    assert.ok(types.has(m[1]!), `TYPE before the samples of ${m[1]}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      for (const part of m[2].match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
        const eq = part.indexOf('=');
        labels[part.slice(0, eq)] = part.slice(eq + 2, -1);
      }
      assert.equal(Object.keys(labels).map((k) => `${k}="${labels[k]}"`).join(','), m[2], `labels of ${line}`);
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

test('GET /metrics: Prometheus text from the same figures as /stats', async () => {
  const s = await scene({ e2eProcessingLatencyPercentile: [0.99] });
  try {
    const r = await get(s.d.httpPort, '/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const { samples, types } = parsePrometheus(r.text);
    const value = (name: string, labels: Record<string, string> = {}) => {
      const hit = samples.filter((x) => x.name === name && JSON.stringify(x.labels) === JSON.stringify(labels));
      assert.equal(hit.length, 1, `one sample ${name}${JSON.stringify(labels)}`);
      return hit[0]!.value;
    };
    for (const [name, type] of types) {
      if (type === 'counter') assert.match(name, /_total$/, `counter ${name} ends in _total`);
    }
    assert.equal(value('nsqd_info', { version: '1.3.0', runtime: runtimeName }), 1);
    assert.equal(value('nsqd_start_time_seconds'), s.d.nsqd.startTime);
    assert.equal(value('nsqd_healthy'), 1);
    assert.equal(value('nsqd_clients'), 2);
    assert.equal(value('nsqd_topics'), 2);
    assert.equal(value('nsqd_channels'), 2);
    const t1 = { topic: 't1' };
    assert.equal(value('nsqd_topic_depth', t1), 0);
    assert.equal(value('nsqd_topic_depth', { topic: 't2' }), 1);
    assert.equal(value('nsqd_topic_backend_depth', t1), 0);
    assert.equal(value('nsqd_topic_messages_total', t1), 5);
    assert.equal(value('nsqd_topic_message_bytes_total', t1), 12);
    assert.equal(value('nsqd_topic_paused', t1), 0);
    assert.equal(value('nsqd_topic_channels', t1), 2);
    const c2 = { topic: 't1', channel: 'c2' };
    const c1 = { topic: 't1', channel: 'c1' };
    assert.equal(value('nsqd_channel_depth', c1), 5);
    assert.equal(value('nsqd_channel_depth', c2), 3);
    assert.equal(value('nsqd_channel_backend_depth', c2), 0);
    assert.equal(value('nsqd_channel_in_flight', c2), 1);
    assert.equal(value('nsqd_channel_deferred', c2), 0);
    assert.equal(value('nsqd_channel_messages_total', c2), 5);
    assert.equal(value('nsqd_channel_requeues_total', c2), 0);
    assert.equal(value('nsqd_channel_timeouts_total', c2), 0);
    assert.equal(value('nsqd_channel_clients', c2), 1);
    assert.equal(value('nsqd_channel_clients', c1), 0);
    assert.equal(value('nsqd_channel_paused', c2), 0);
    assert.equal(value('nsqd_channel_e2e_processing_latency_count', c2), 1, 'one FIN so far');
    const p99 = value('nsqd_channel_e2e_processing_latency_seconds', { ...c2, quantile: '0.99' });
    assert.ok(p99 >= 0 && p99 < 10, `p99 in seconds: ${p99}`);
    assert.equal(value('nsqd_topic_e2e_processing_latency_count', t1), 1);
    for (const m of ['nsqd_memory_rss_bytes', 'nsqd_memory_heap_total_bytes', 'nsqd_memory_heap_used_bytes', 'nsqd_memory_external_bytes']) {
      assert.ok(value(m) > 0, `${m} is filled`);
    }

    // Changes show up: REQ the held message, pause c1.
    s.consumer.write(`REQ ${s.held[0]!.id} 0\n`);
    await post(s.d.httpPort, '/channel/pause?topic=t1&channel=c1');
    await waitFor(() => s.d.nsqd.getExistingTopic('t1')!.getExistingChannel('c2')!.requeueCount === 1, 2000, 'the REQ');
    const again = parsePrometheus((await get(s.d.httpPort, '/metrics')).text).samples;
    const v2 = (name: string, labels: Record<string, string>) => again.find((x) => x.name === name && JSON.stringify(x.labels) === JSON.stringify(labels))?.value;
    assert.equal(v2('nsqd_channel_requeues_total', c2), 1);
    assert.equal(v2('nsqd_channel_paused', c1), 1);
  } finally {
    await s.close();
  }
  const plain = await startNsqd();
  try {
    const { samples } = parsePrometheus((await get(plain.httpPort, '/metrics')).text);
    assert.equal(samples.find((x) => x.name === 'nsqd_topics')?.value, 0);
    assert.ok(!samples.some((x) => x.name.includes('e2e')), 'no e2e series when the feature is off');
  } finally {
    await plain.close();
  }
});
