// nsqd's lookup loop (PROTOCOL.md 6.5, 3.9, 11.1 item 16), in-process: the
// exact bytes nsqd sends to a scripted lookupd (magic, IDENTIFY, the replay,
// REGISTER/UNREGISTER on creation and deletion, PING), its reaction to a bad
// IDENTIFY reply and to a lookupd going away, and, against a real in-process
// nsqlookupd, restart, PUT /config/nsqlookupd_tcp_addresses and a large
// replay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { buildOptions, NSQD_FLAGS } from '../../core/nsqd/options.ts';
import { http, startLookupd } from '../helpers/lookupd.ts';
import { startNsqd, type TestNsqd } from '../helpers/nsqd.ts';
import { runtime } from '../helpers/runtime.ts';
import { WireClient } from '../helpers/wire.ts';

const T = { timeout: 20_000 };
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    await sleep(10);
  }
}

interface Received {
  magic: string;
  identify?: Record<string, unknown>;
  identifyRaw?: string;
  lines: string[];
}

/**
 * A scripted nsqlookupd over node:net: records what each connection sends and
 * answers every command with `answer(line)` (default OK), IDENTIFY with
 * `identifyReply`.
 */
class FakeLookupd {
  server!: net.Server;
  port = 0;
  conns: Received[] = [];
  sockets: net.Socket[] = [];
  // port 1: nothing answers the channel pre-creation query there, at once
  identifyReply = '{"broadcast_address":"127.0.0.1","hostname":"fake","http_port":1,"tcp_port":4160,"version":"1.3.0"}';
  answer: (line: string) => string = () => 'OK';
  /** While set, replies to commands (not IDENTIFY) are held back until release(). */
  holding = false;
  private held: { s: net.Socket; b: Buffer }[] = [];

  static async start(port = 0): Promise<FakeLookupd> {
    const f = new FakeLookupd();
    f.server = net.createServer((s) => f.accept(s));
    await new Promise<void>((resolve, reject) => {
      f.server.once('error', reject);
      f.server.listen(port, '127.0.0.1', resolve);
    });
    f.port = (f.server.address() as net.AddressInfo).port;
    return f;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private accept(s: net.Socket): void {
    this.sockets.push(s);
    const rec: Received = { magic: '', lines: [] };
    this.conns.push(rec);
    let buf = Buffer.alloc(0);
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (rec.magic === '') {
        if (buf.length < 4) return;
        rec.magic = buf.subarray(0, 4).toString('latin1');
        buf = buf.subarray(4);
      }
      const out: Buffer[] = [];
      for (;;) {
        const nl = buf.indexOf(10);
        if (nl < 0) break;
        const line = buf.subarray(0, nl).toString();
        if (line === 'IDENTIFY') {
          if (buf.length < nl + 5) break;
          const size = buf.readInt32BE(nl + 1);
          if (buf.length < nl + 5 + size) break;
          rec.identifyRaw = buf.subarray(nl + 5, nl + 5 + size).toString();
          rec.identify = JSON.parse(rec.identifyRaw) as Record<string, unknown>;
          buf = buf.subarray(nl + 5 + size);
          out.push(frame(this.identifyReply));
          continue;
        }
        buf = buf.subarray(nl + 1);
        rec.lines.push(line);
        if (this.holding) {
          if (out.length > 0) s.write(Buffer.concat(out.splice(0)));
          this.held.push({ s, b: frame(this.answer(line)) });
        } else out.push(frame(this.answer(line)));
      }
      if (out.length > 0) s.write(Buffer.concat(out));
    });
  }

  release(): void {
    this.holding = false;
    for (const { s, b } of this.held.splice(0)) s.write(b);
  }

  /** Drops every connection (a lookupd going away without stopping to listen). */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets = [];
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function frame(text: string): Buffer {
  const b = Buffer.from(text);
  const h = Buffer.alloc(4);
  h.writeInt32BE(b.length);
  return Buffer.concat([h, b]);
}

const lines = (f: FakeLookupd, i = f.conns.length - 1) => f.conns[i]?.lines ?? [];

test('nsqd sends "  V1", IDENTIFY (sorted keys: broadcast address, ports, hostname, version), then replays its topics and channels', T, async () => {
  const f = await FakeLookupd.start();
  let d: TestNsqd | undefined;
  try {
    d = await startNsqd({ broadcastAddress: '10.9.8.7', topologyZone: 'zone-1' });
    // before the lookupd is known: topics with and without channels
    d.nsqd.getTopic('with_channels').getChannel('c1');
    d.nsqd.getTopic('with_channels').getChannel('c2');
    d.nsqd.getTopic('bare');
    d.nsqd.getTopic('eph#ephemeral').getChannel('ch#ephemeral');
    d.nsqd.setLookupdTcpAddresses([f.address]);
    await waitFor(() => lines(f).length >= 4, 3000, () => `the replay (got ${JSON.stringify(f.conns)})`);
    const c = f.conns[0]!;
    assert.equal(c.magic, '  V1');
    assert.equal(c.identifyRaw, JSON.stringify({
      broadcast_address: '10.9.8.7', hostname: runtime.hostname(), http_port: d.httpPort, tcp_port: d.port,
      topology_region: '', topology_zone: 'zone-1', version: '1.3.0',
    }), 'IDENTIFY body, byte for byte');
    assert.deepEqual([...c.lines].sort(), ['REGISTER bare', 'REGISTER eph#ephemeral ch#ephemeral', 'REGISTER with_channels c1', 'REGISTER with_channels c2']);
    const peer = d.nsqd.lookup.peerList()[0]!;
    await waitFor(() => peer.connected, 2000, () => 'the peer to be connected');
    assert.deepEqual(peer.info, { tcpPort: 4160, httpPort: 1, version: '1.3.0', broadcastAddress: '127.0.0.1' }, 'the IDENTIFY reply is kept');
    assert.deepEqual(d.nsqd.lookup.lookupdHttpAddresses(), ['127.0.0.1:1']);
  } finally {
    await d?.close();
    await f.close();
  }
});

test('--broadcast-tcp-port and --broadcast-http-port replace the real ports in IDENTIFY', T, async () => {
  const f = await FakeLookupd.start();
  let d: TestNsqd | undefined;
  try {
    d = await startNsqd({ broadcastAddress: 'public.example', broadcastTcpPort: 14150, broadcastHttpPort: 14151, lookupdTcpAddress: [f.address] });
    await waitFor(() => f.conns[0]?.identify !== undefined, 3000, () => 'IDENTIFY');
    const id = f.conns[0]!.identify!;
    assert.deepEqual([id.broadcast_address, id.tcp_port, id.http_port], ['public.example', 14150, 14151]);
  } finally {
    await d?.close();
    await f.close();
  }
});

test('topic and channel creation and deletion become REGISTER / UNREGISTER, in order; PING at the interval', T, async () => {
  const f = await FakeLookupd.start();
  let d: TestNsqd | undefined;
  const clients: WireClient[] = [];
  try {
    d = await startNsqd({ lookupdTcpAddress: [f.address], lookupdPingInterval: 150 });
    const nsqd = d.nsqd;
    await waitFor(() => nsqd.lookup.peerList()[0]?.connected === true, 3000, () => 'the connection');
    const topic = nsqd.getTopic('t');
    topic.getChannel('c');
    await waitFor(() => lines(f).filter((l) => l !== 'PING').length >= 2, 2000, () => `REGISTERs, got ${lines(f)}`);
    await topic.deleteChannel('c');
    await nsqd.deleteExistingTopic('t');
    // an ephemeral channel goes when its last consumer leaves, and its ephemeral topic with it
    const c = await WireClient.connect(d.port);
    clients.push(c);
    await c.sub('e#ephemeral', 'ch#ephemeral');
    c.destroy();
    const expected = ['REGISTER t', 'REGISTER t c', 'UNREGISTER t c', 'UNREGISTER t', 'REGISTER e#ephemeral', 'REGISTER e#ephemeral ch#ephemeral', 'UNREGISTER e#ephemeral ch#ephemeral', 'UNREGISTER e#ephemeral'];
    await waitFor(() => lines(f).filter((l) => l !== 'PING').length >= expected.length, 3000, () => `the commands, got ${JSON.stringify(lines(f))}`);
    assert.deepEqual(lines(f).filter((l) => l !== 'PING'), expected);
    const pings0 = lines(f).filter((l) => l === 'PING').length;
    await sleep(500);
    const pings = lines(f).filter((l) => l === 'PING').length - pings0;
    assert.ok(pings >= 2 && pings <= 5, `PINGs every 150 ms: ${pings} in 500 ms`);
    assert.equal(f.conns.length, 1, 'one connection throughout');
  } finally {
    for (const c of clients) c.destroy();
    await d?.close();
    await f.close();
  }
});

test('a topic created while the replay is under way is registered after it', T, async () => {
  const f = await FakeLookupd.start();
  let d: TestNsqd | undefined;
  try {
    d = await startNsqd();
    d.nsqd.getTopic('early');
    f.holding = true;
    d.nsqd.setLookupdTcpAddresses([f.address]);
    await waitFor(() => lines(f).includes('REGISTER early'), 3000, () => 'the replay');
    const peer = d.nsqd.lookup.peerList()[0]!;
    assert.equal(peer.connected, false, 'the replay is not answered yet');
    d.nsqd.getTopic('late').getChannel('c');
    await sleep(50);
    assert.deepEqual(lines(f), ['REGISTER early'], 'nothing else goes out before the replay is answered');
    f.release();
    await waitFor(() => lines(f).length === 3, 3000, () => `the late registrations: ${JSON.stringify(lines(f))}`);
    assert.deepEqual(lines(f), ['REGISTER early', 'REGISTER late', 'REGISTER late c']);
    await waitFor(() => peer.connected, 2000, () => 'connected');
  } finally {
    await d?.close();
    await f.close();
  }
});

test('a bad IDENTIFY reply or an error closes the connection; nsqd retries with backoff and replays', T, async () => {
  const f = await FakeLookupd.start();
  let d: TestNsqd | undefined;
  try {
    f.identifyReply = 'E_INVALID';
    d = await startNsqd();
    d.nsqd.lookup.timing = { backoffMin: 50, backoffMax: 400 };
    d.nsqd.getTopic('kept');
    const t0 = Date.now();
    d.nsqd.setLookupdTcpAddresses([f.address]);
    await waitFor(() => f.conns.length >= 4, 5000, () => `reconnections after E_INVALID (${f.conns.length})`);
    const took = Date.now() - t0;
    assert.ok(took >= 40 + 80 + 160, `3 retries with a doubling backoff from 50 ms took ${took} ms`);
    const peer = d.nsqd.lookup.peerList()[0]!;
    assert.equal(peer.connected, false);
    assert.deepEqual(f.conns.flatMap((c) => c.lines), [], 'nothing registered after a refused IDENTIFY');
    f.identifyReply = '{"broadcast_address":"x","http_port":1,"tcp_port":2,"version":"1.3.0"}';
    await waitFor(() => peer.connected, 5000, () => 'a connection once IDENTIFY is answered');
    assert.deepEqual(lines(f), ['REGISTER kept']);
    // the lookupd drops the connection: reconnect and replay
    const before = f.conns.length;
    f.dropAll();
    await waitFor(() => f.conns.length > before && lines(f).includes('REGISTER kept') && peer.connected, 5000, () => 'a reconnection with the replay');
    // a command answered with an error: lookupd would close; the peer replays on the next connection
    f.answer = (line) => (line.startsWith('REGISTER') ? 'E_INVALID nope' : 'OK');
    const n = f.conns.length;
    d.nsqd.getTopic('second');
    await waitFor(() => lines(f).includes('REGISTER second'), 3000, () => 'REGISTER second');
    f.answer = () => 'OK';
    f.dropAll();
    await waitFor(() => f.conns.length > n && lines(f).length >= 2 && peer.connected, 5000, () => `the replay of both topics: ${JSON.stringify(lines(f))}`);
    assert.deepEqual([...lines(f)].sort(), ['REGISTER kept', 'REGISTER second']);
  } finally {
    await d?.close();
    await f.close();
  }
});

test('a lookupd that accepts but never answers: 1 s reply timeout, then reconnection', T, async () => {
  const sockets: net.Socket[] = [];
  const accepted: number[] = [];
  const silent = net.createServer((s) => {
    s.on('error', () => {});
    sockets.push(s);
    accepted.push(Date.now());
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  let d: TestNsqd | undefined;
  try {
    const port = (silent.address() as net.AddressInfo).port;
    d = await startNsqd({ lookupdTcpAddress: [`127.0.0.1:${port}`] });
    await waitFor(() => accepted.length >= 2, 5000, () => 'a second connection after the timeout');
    const gap = accepted[1]! - accepted[0]!;
    assert.ok(gap >= 900 && gap < 3000, `reconnected ${gap} ms after the first attempt (1 s timeout + backoff)`);
  } finally {
    await d?.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});

test('against nsqlookupd: registrations follow topics and channels; a restarted lookupd gets everything again', T, async () => {
  let l = await startLookupd();
  let d: TestNsqd | undefined;
  try {
    d = await startNsqd({ lookupdTcpAddress: [l.tcpAddress], broadcastAddress: '127.0.0.1' });
    const nsqd = d.nsqd;
    nsqd.getTopic('a').getChannel('a1');
    nsqd.getTopic('b');
    const lookup = async (t: string) => (await http(`${l.url}/lookup?topic=${t}`)).json() as { channels: string[]; producers: { tcp_port: number }[] };
    await waitFor(async () => (await http(`${l.url}/lookup?topic=b`)).status === 200, 2000, () => '/lookup?topic=b');
    assert.deepEqual((await lookup('a')).channels, ['a1']);
    assert.deepEqual((await lookup('a')).producers.map((p) => p.tcp_port), [d.port]);
    // restart on the same ports
    const { tcpPort, httpPort } = l;
    await l.close();
    await sleep(100);
    nsqd.getTopic('while_down').getChannel('wd');
    l = await startLookupd({ tcpAddress: `127.0.0.1:${tcpPort}`, httpAddress: `127.0.0.1:${httpPort}` });
    await waitFor(async () => (await http(`${l.url}/lookup?topic=while_down`)).status === 200, 5000, () => 'the replay after the restart');
    const topics = ((await http(`${l.url}/topics`)).json() as { topics: string[] }).topics.sort();
    assert.deepEqual(topics, ['a', 'b', 'while_down']);
    assert.deepEqual((await lookup('a')).channels, ['a1']);
    assert.deepEqual((await lookup('while_down')).channels, ['wd']);
    assert.equal(nsqd.lookup.peerList()[0]!.connects, 2);
  } finally {
    await d?.close();
    await l.close();
  }
});

test('PUT /config/nsqlookupd_tcp_addresses swaps lookupds while running', T, async () => {
  const l1 = await startLookupd();
  const l2 = await startLookupd();
  let d: TestNsqd | undefined;
  try {
    d = await startNsqd({ lookupdTcpAddress: [l1.tcpAddress], broadcastAddress: '127.0.0.1' });
    d.nsqd.getTopic('moving');
    const nodes = async (url: string) => ((await http(`${url}/nodes`)).json() as { producers: { topics: string[] }[] }).producers;
    await waitFor(async () => (await nodes(l1.url)).length === 1, 2000, () => 'nsqd on lookupd 1');
    const nsqdUrl = `http://127.0.0.1:${d.httpPort}`;
    const put = await http(`${nsqdUrl}/config/nsqlookupd_tcp_addresses`, 'PUT', JSON.stringify([l2.tcpAddress]));
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.json(), [l2.tcpAddress]);
    assert.deepEqual((await http(`${nsqdUrl}/config/nsqlookupd_tcp_addresses`)).json(), [l2.tcpAddress]);
    await waitFor(async () => (await nodes(l2.url))[0]?.topics.length === 1, 2000, () => 'nsqd on lookupd 2, with its topic');
    assert.deepEqual((await nodes(l2.url))[0]!.topics, ['moving']);
    assert.equal((await nodes(l2.url)).length, 1);
    await waitFor(async () => (await nodes(l1.url)).length === 0, 2000, () => 'nsqd gone from lookupd 1');
    const both = await http(`${nsqdUrl}/config/nsqlookupd_tcp_addresses`, 'PUT', JSON.stringify([l1.tcpAddress, l2.tcpAddress]));
    assert.equal(both.status, 200);
    await waitFor(async () => (await nodes(l1.url)).length === 1, 2000, () => 'nsqd back on lookupd 1');
    assert.deepEqual(d.nsqd.lookup.peerList().map((p) => p.addr), [l2.tcpAddress, l1.tcpAddress]);
    const bad = await http(`${nsqdUrl}/config/nsqlookupd_tcp_addresses`, 'PUT', 'not json');
    assert.equal(bad.status, 400);
    const none = await http(`${nsqdUrl}/config/nsqlookupd_tcp_addresses`, 'PUT', '[]');
    assert.equal(none.status, 200);
    await waitFor(async () => (await nodes(l1.url)).length === 0 && (await nodes(l2.url)).length === 0, 2000, () => 'nsqd gone from both');
  } finally {
    await d?.close();
    await l1.close();
    await l2.close();
  }
});

test('10,000 topics are replayed over one connection at once', T, async () => {
  const l = await startLookupd();
  let d: TestNsqd | undefined;
  try {
    d = await startNsqd({ broadcastAddress: '127.0.0.1' });
    const n = 10_000;
    for (let i = 0; i < n; i++) d.nsqd.getTopic(`topic_${i}#ephemeral`); // ephemeral: no disk queue to open per topic
    const t0 = performance.now();
    d.nsqd.setLookupdTcpAddresses([l.tcpAddress]);
    const peer = d.nsqd.lookup.peerList()[0]!;
    await waitFor(() => peer.connected, 10_000, () => 'the replay');
    const ms = performance.now() - t0;
    assert.equal(l.lookupd.db.findRegistrations('topic', '*', '').length, n);
    assert.ok(ms < 5000, `replay of ${n} topics took ${ms.toFixed(0)} ms`);
  } finally {
    await d?.close();
    await l.close();
  }
});

test('--lookupd-tcp-address must be host:port; it is repeatable', () => {
  const defaults = Object.fromEntries(NSQD_FLAGS.map((f) => [f.name, f.default]));
  assert.throws(() => buildOptions({ ...defaults, 'lookupd-tcp-address': ['127.0.0.1'] }, 0), /lookupd-tcp-address.*host:port|<addr>:<port>/);
  const opts = buildOptions({ ...defaults, 'lookupd-tcp-address': ['127.0.0.1:4160', 'lookupd-2:4160'] }, 0);
  assert.deepEqual(opts.lookupdTcpAddress, ['127.0.0.1:4160', 'lookupd-2:4160']);
  assert.equal(opts.lookupdPingInterval, 15_000);
});

test('channel pre-creation: a new topic first gets the channels the lookupds know (not #ephemeral ones), and those channels get its first messages', T, async () => {
  const l1 = await startLookupd();
  const l2 = await startLookupd();
  let d: TestNsqd | undefined;
  const clients: WireClient[] = [];
  try {
    for (const [l, ch] of [[l1, 'from_l1'], [l1, 'both'], [l2, 'both'], [l2, 'from_l2'], [l2, 'gone#ephemeral']] as const) {
      assert.equal((await http(`${l.url}/channel/create?topic=pre&channel=${encodeURIComponent(ch)}`, 'POST')).status, 200);
    }
    d = await startNsqd({ lookupdTcpAddress: [l1.tcpAddress, l2.tcpAddress], broadcastAddress: '127.0.0.1' });
    const nsqd = d.nsqd;
    await waitFor(() => nsqd.lookup.peerList().every((p) => p.connected), 3000, () => 'both lookupds connected');
    // a PUB creates the topic; its message must reach every pre-created channel
    const c = await WireClient.connect(d.port);
    clients.push(c);
    await c.pub('pre', 'first');
    const topic = nsqd.getExistingTopic('pre')!;
    await waitFor(() => topic.channelsSnapshot().length === 3, 3000, () => `the pre-created channels (${topic.channelsSnapshot().map((ch) => ch.name)})`);
    assert.deepEqual(topic.channelsSnapshot().map((ch) => ch.name).sort(), ['both', 'from_l1', 'from_l2']);
    for (const name of ['both', 'from_l1', 'from_l2']) {
      const sub = await WireClient.connect(d.port);
      clients.push(sub);
      await sub.sub('pre', name, 1);
      assert.equal((await sub.readMessage(2000)).body, 'first', `channel ${name} got the first message`);
    }
    // and they are registered with the lookupds by this nsqd
    await waitFor(async () => ((await http(`${l1.url}/lookup?topic=pre`)).json() as { producers: unknown[] }).producers.length === 1, 2000, () => 'the topic on lookupd 1');
    // a topic no lookupd knows starts at once, with no channel
    await c.pub('plain', 'x');
    assert.equal(nsqd.getExistingTopic('plain')!.channelsSnapshot().length, 0);
  } finally {
    for (const c of clients) c.destroy();
    await d?.close();
    await l1.close();
    await l2.close();
  }
});

test('channel pre-creation: lookupds that fail to answer do not keep the topic from starting', T, async () => {
  const f = await FakeLookupd.start();
  // its HTTP address accepts connections and never answers
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => {
    s.on('error', () => {});
    sockets.push(s);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  f.identifyReply = JSON.stringify({ broadcast_address: '127.0.0.1', hostname: 'fake', http_port: (silent.address() as net.AddressInfo).port, tcp_port: f.port, version: '1.3.0' });
  let d: TestNsqd | undefined;
  const clients: WireClient[] = [];
  try {
    d = await startNsqd({ lookupdTcpAddress: [f.address], httpClientRequestTimeout: 300 });
    const nsqd = d.nsqd;
    await waitFor(() => nsqd.lookup.peerList()[0]?.connected === true, 3000, () => 'the connection');
    const sub = await WireClient.connect(d.port);
    clients.push(sub);
    await sub.sub('fails', 'ch', 1);
    const c = await WireClient.connect(d.port);
    clients.push(c);
    const t0 = Date.now();
    await c.pub('fails', 'still delivered');
    assert.equal((await sub.readMessage(3000)).body, 'still delivered');
    const waited = Date.now() - t0;
    assert.ok(sockets.length >= 1, 'nsqd asked the lookupd for channels');
    assert.ok(waited >= 250 && waited < 2000, `the message waited for the query's timeout (300 ms): ${waited} ms`);
  } finally {
    for (const c of clients) c.destroy();
    await d?.close();
    await f.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});
