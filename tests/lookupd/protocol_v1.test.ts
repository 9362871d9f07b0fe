// nsqlookupd's TCP protocol V1 through real sockets, byte by byte
// (PROTOCOL.md 6.2): magic, IDENTIFY, REGISTER, UNREGISTER, PING, every error
// text (all fatal: written, then the connection closes), partial and
// pipelined input, and what each command does to the registration database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLookupd, identifyCommand, peer, V1Client, type TestLookupd } from '../helpers/lookupd.ts';
import { runtime } from '../helpers/runtime.ts';
import { bytes, int32 } from '../helpers/wire.ts';

const T = { timeout: 15_000 };
const ascii = (s: string) => new TextEncoder().encode(s);
/** The exact bytes of a V1 reply: [int32 size][data]. */
const reply = (text: string) => bytes(int32(ascii(text).length), text);
const OK = reply('OK');

type Connect = (opts?: { magic?: boolean }) => Promise<V1Client>;

/** Runs `fn` against a fresh nsqlookupd; afterwards a new connection must still be served. */
async function withLookupd(fn: (connect: Connect, l: TestLookupd) => Promise<void>): Promise<void> {
  const l = await startLookupd();
  const clients: V1Client[] = [];
  const connect: Connect = async (o) => {
    const c = await V1Client.connect(l.tcpPort, o);
    clients.push(c);
    return c;
  };
  try {
    await fn(connect, l);
    const probe = await connect();
    assert.equal(await probe.command('PING'), 'OK', 'a new connection is still served');
  } finally {
    for (const c of clients) c.destroy();
    await l.close();
  }
}

/** The producer ids under a key. */
function producers(l: TestLookupd, category: string, key: string, subkey = ''): string[] {
  return l.lookupd.db.findProducers(category, key, subkey).map((p) => p.peerInfo.id);
}

function keys(l: TestLookupd, category: string, key = '*', subkey = '*'): string[] {
  return l.lookupd.db.findRegistrations(category, key, subkey).map((r) => `${r.key}:${r.subkey}`).sort();
}

/** The client's own address as the server sees it. */
async function localId(c: V1Client, l: TestLookupd): Promise<string> {
  const clients = l.lookupd.db.findProducers('client', '', '');
  assert.ok(clients.length > 0, 'an identified client');
  void c;
  return clients[clients.length - 1]!.peerInfo.id;
}

async function expectBytes(c: V1Client, expected: Uint8Array, what: string): Promise<void> {
  const got = await c.wire.readBytes(expected.length);
  assert.deepEqual([...got], [...expected], `${what}: bytes`);
}

async function expectFatal(c: V1Client, text: string): Promise<void> {
  await expectBytes(c, reply(text), text);
  await c.expectClose();
  assert.equal(c.wire.pending(), 0, `nothing after ${text}`);
}

test('bad magic: E_BAD_PROTOCOL unframed ([size][text], no frame type), then close', T, async () => {
  await withLookupd(async (connect) => {
    for (const magic of ['  V2', 'V1  ', 'GET ']) {
      const c = await connect({ magic: false });
      c.write(magic);
      await expectBytes(c, Uint8Array.from([0, 0, 0, 0x0e, ...ascii('E_BAD_PROTOCOL')]), `magic ${JSON.stringify(magic)}`);
      await c.expectClose();
    }
    // the magic split across writes is fine
    const c = await connect({ magic: false });
    await c.wire.writeInPieces('  V1PING\n', 1, 2);
    await expectBytes(c, OK, 'PING after a magic sent byte by byte');
  });
});

test('PING before IDENTIFY answers OK and does nothing; after it, it refreshes last_update', T, async () => {
  await withLookupd(async (connect, l) => {
    const c = await connect();
    c.write('PING\n');
    await expectBytes(c, Uint8Array.from([0, 0, 0, 2, 0x4f, 0x4b]), 'PING');
    assert.deepEqual(producers(l, 'client', ''), [], 'no client registered by PING');
    assert.equal(await c.identify(peer()), l.lookupd.identifyResponse());
    const p = l.lookupd.db.findProducers('client', '', '')[0]!;
    p.peerInfo.lastUpdate -= 60_000;
    const before = p.peerInfo.lastUpdate;
    assert.equal(await c.command('PING'), 'OK');
    assert.ok(p.peerInfo.lastUpdate >= before + 60_000, 'PING set last_update to now');
    const stale = p.peerInfo.lastUpdate - 60_000;
    p.peerInfo.lastUpdate = stale;
    assert.equal(await c.command('REGISTER t'), 'OK');
    assert.equal(p.peerInfo.lastUpdate, stale, 'REGISTER does not refresh last_update');
  });
});

test('IDENTIFY: the reply is this lookupd as JSON with sorted keys; the peer is registered as a client', T, async () => {
  await withLookupd(async (connect, l) => {
    const c = await connect();
    c.write(identifyCommand(peer({ broadcast_address: '10.1.2.3', tcp_port: 5150, http_port: 5151, hostname: 'nsqd-a', topology_zone: 'z1', extra: [1] })));
    const expected = `{"broadcast_address":"127.0.0.1","hostname":${JSON.stringify(runtime.hostname())},"http_port":${l.httpPort},"tcp_port":${l.tcpPort},"version":"1.3.0"}`;
    await expectBytes(c, reply(expected), 'IDENTIFY reply');
    const [p] = l.lookupd.db.findProducers('client', '', '');
    assert.ok(p, 'registered under client::');
    const info = p.peerInfo;
    assert.match(info.id, /^127\.0\.0\.1:\d+$/, 'id is the socket remote address');
    assert.equal(info.remoteAddress, info.id);
    assert.deepEqual(
      [info.broadcastAddress, info.tcpPort, info.httpPort, info.hostname, info.version, info.topologyZone, info.topologyRegion],
      ['10.1.2.3', 5150, 5151, 'nsqd-a', '1.3.0', 'z1', ''],
    );
    assert.ok(Math.abs(info.lastUpdate - Date.now()) < 5000, 'last_update set');
    // remote_address in the body is ignored: the socket's is used
    const d = await connect();
    await d.identify(peer({ remote_address: '1.2.3.4:5' }));
    const ids = producers(l, 'client', '');
    assert.equal(ids.length, 2);
    assert.ok(!ids.includes('1.2.3.4:5'));
    // keys match case-insensitively, as Go's json.Unmarshal; null is a zero value
    const e = await connect();
    const r = await e.identify({ BROADCAST_ADDRESS: 'x', Tcp_Port: 1, http_port: 2, version: 'v', hostname: null });
    assert.match(r, /^\{"broadcast_address"/);
    assert.equal(producers(l, 'client', '').length, 3);
  });
});

test('IDENTIFY errors: E_BAD_BODY texts, each fatal', T, async () => {
  await withLookupd(async (connect, l) => {
    const cases: [string, Uint8Array][] = [
      ['E_BAD_BODY IDENTIFY failed to decode JSON body', identifyCommand('{not json')],
      ['E_BAD_BODY IDENTIFY failed to decode JSON body', identifyCommand('[1,2]')],
      ['E_BAD_BODY IDENTIFY failed to decode JSON body', identifyCommand('"text"')],
      ['E_BAD_BODY IDENTIFY failed to decode JSON body', identifyCommand('')],
      ['E_BAD_BODY IDENTIFY failed to decode JSON body', identifyCommand(peer({ tcp_port: '4150' }))],
      ['E_BAD_BODY IDENTIFY failed to decode JSON body', identifyCommand(peer({ version: 1 }))],
      ['E_BAD_BODY IDENTIFY failed to decode JSON body', identifyCommand(peer({ http_port: 1.5 }))],
      ['E_BAD_BODY IDENTIFY missing fields', identifyCommand('null')],
      ['E_BAD_BODY IDENTIFY missing fields', identifyCommand('{}')],
      ['E_BAD_BODY IDENTIFY missing fields', identifyCommand(peer({ broadcast_address: '' }))],
      ['E_BAD_BODY IDENTIFY missing fields', identifyCommand(peer({ tcp_port: 0 }))],
      ['E_BAD_BODY IDENTIFY missing fields', identifyCommand(peer({ http_port: undefined }))],
      ['E_BAD_BODY IDENTIFY missing fields', identifyCommand(peer({ version: '' }))],
      ['E_BAD_BODY IDENTIFY failed to read body', bytes('IDENTIFY\n', int32(-1))],
      ['E_BAD_BODY IDENTIFY failed to read body', bytes('IDENTIFY\n', int32(64 * 1024 * 1024))],
    ];
    for (const [text, cmd] of cases) {
      const c = await connect();
      c.write(cmd);
      await expectFatal(c, text);
    }
    assert.deepEqual(producers(l, 'client', ''), [], 'no failed IDENTIFY registered anything');
    // EOF in the size or in the body
    const c1 = await connect();
    c1.write(bytes('IDENTIFY\n', [0, 0]));
    await new Promise((r) => setTimeout(r, 50));
    c1.wire.end();
    await expectFatal(c1, 'E_BAD_BODY IDENTIFY failed to read body size');
    const c2 = await connect();
    c2.write(bytes('IDENTIFY\n', int32(100), '{"broad'));
    await new Promise((r) => setTimeout(r, 50));
    c2.wire.end();
    await expectFatal(c2, 'E_BAD_BODY IDENTIFY failed to read body');
    // IDENTIFY twice
    const c3 = await connect();
    await c3.identify(peer());
    c3.write(identifyCommand(peer()));
    await expectFatal(c3, 'E_INVALID cannot IDENTIFY again');
  });
});

test('unknown and empty commands: E_INVALID invalid command <X>, fatal', T, async () => {
  await withLookupd(async (connect) => {
    for (const [line, text] of [
      ['FOO bar\n', 'E_INVALID invalid command FOO'],
      ['ping\n', 'E_INVALID invalid command ping'],
      ['\n', 'E_INVALID invalid command '],
      ['SUB t c\n', 'E_INVALID invalid command SUB'],
    ] as const) {
      const c = await connect();
      c.write(line);
      await expectFatal(c, text);
    }
    // commands before the bad one in the same write run; those after it do not
    const c = await connect();
    c.write('PING\nPING\nNOPE\nPING\n');
    await expectBytes(c, bytes(OK, OK, reply('E_INVALID invalid command NOPE')), 'two OKs then the error');
    await c.expectClose();
    assert.equal(c.wire.pending(), 0, 'the PING after the error was not answered');
  });
});

test('REGISTER and UNREGISTER before IDENTIFY: E_INVALID client must IDENTIFY, fatal', T, async () => {
  await withLookupd(async (connect, l) => {
    for (const line of ['REGISTER t c\n', 'REGISTER t\n', 'UNREGISTER t\n', 'UNREGISTER t c\n', 'REGISTER\n']) {
      const c = await connect();
      c.write(line);
      await expectFatal(c, 'E_INVALID client must IDENTIFY');
    }
    assert.deepEqual(keys(l, 'topic'), [], 'nothing registered');
  });
});

test('REGISTER and UNREGISTER parameter errors, with the names quoted as sent', T, async () => {
  await withLookupd(async (connect) => {
    const cases: [string, string][] = [
      ['REGISTER\n', 'E_INVALID REGISTER insufficient number of params'],
      ['UNREGISTER\n', 'E_INVALID UNREGISTER insufficient number of params'],
      ['REGISTER a!b\n', "E_BAD_TOPIC REGISTER topic name 'a!b' is not valid"],
      ['UNREGISTER a!b c\n', "E_BAD_TOPIC UNREGISTER topic name 'a!b' is not valid"],
      [`REGISTER ${'x'.repeat(65)}\n`, `E_BAD_TOPIC REGISTER topic name '${'x'.repeat(65)}' is not valid`],
      ['REGISTER t c:d\n', "E_BAD_CHANNEL REGISTER channel name 'c:d' is not valid"],
      ['UNREGISTER t #ephemeral\n', "E_BAD_CHANNEL UNREGISTER channel name '#ephemeral' is not valid"],
    ];
    for (const [line, text] of cases) {
      const c = await connect();
      await c.identify(peer());
      c.write(line);
      await expectFatal(c, text);
    }
    // a raw non-ASCII byte is echoed as sent
    const c = await connect();
    await c.identify(peer());
    c.write(Uint8Array.from([...ascii('REGISTER t'), 0xff, 0x0a]));
    const expected = Uint8Array.from([...ascii("E_BAD_TOPIC REGISTER topic name 't"), 0xff, ...ascii("' is not valid")]);
    await expectBytes(c, bytes(int32(expected.length), expected), 'the raw byte in the error');
    await c.expectClose();
  });
});

test('REGISTER adds the peer to topic (and channel) keys; UNREGISTER removes it and keeps the keys', T, async () => {
  await withLookupd(async (connect, l) => {
    const c = await connect();
    await c.identify(peer());
    const id = await localId(c, l);
    c.write('REGISTER t1 c1\nREGISTER t1 c2\nREGISTER t2\nREGISTER t1 c1\n');
    await expectBytes(c, bytes(OK, OK, OK, OK), 'four OKs in one reply');
    assert.deepEqual(keys(l, 'topic', '*', ''), ['t1:', 't2:']);
    assert.deepEqual(keys(l, 'channel'), ['t1:c1', 't1:c2']);
    assert.deepEqual(producers(l, 'topic', 't1'), [id]);
    assert.deepEqual(producers(l, 'channel', 't1', 'c1'), [id]);

    assert.equal(await c.command('UNREGISTER t1 c1'), 'OK');
    assert.deepEqual(producers(l, 'channel', 't1', 'c1'), [], 'left the channel');
    assert.deepEqual(keys(l, 'channel'), ['t1:c1', 't1:c2'], 'the channel key stays');
    assert.deepEqual(producers(l, 'topic', 't1'), [id], 'the topic is untouched');

    assert.equal(await c.command('UNREGISTER t1'), 'OK');
    assert.deepEqual(producers(l, 'topic', 't1'), [], 'left the topic');
    assert.deepEqual(producers(l, 'channel', 't1', 'c2'), [], 'and its channels');
    assert.deepEqual(keys(l, 'topic', '*', ''), ['t1:', 't2:'], 'the topic key stays');
    assert.equal(await c.command('UNREGISTER nothing'), 'OK', 'unregistering what is not there is OK');
    assert.equal(await c.command('UNREGISTER nothing c'), 'OK');
    // white space around a line is trimmed; \r\n works
    assert.equal(await c.command('  REGISTER t3 c3 \r'), 'OK');
    assert.deepEqual(producers(l, 'channel', 't3', 'c3'), [id]);
  });
});

test('ephemeral keys go with their last producer', T, async () => {
  await withLookupd(async (connect, l) => {
    const a = await connect();
    await a.identify(peer());
    const b = await connect();
    await b.identify(peer());
    for (const c of [a, b]) assert.equal(await c.command('REGISTER t#ephemeral c#ephemeral'), 'OK');
    assert.equal(await a.command('UNREGISTER t#ephemeral c#ephemeral'), 'OK');
    assert.deepEqual(keys(l, 'channel'), ['t#ephemeral:c#ephemeral'], 'one producer left: the key stays');
    assert.equal(await b.command('UNREGISTER t#ephemeral c#ephemeral'), 'OK');
    assert.deepEqual(keys(l, 'channel'), [], 'the ephemeral channel key is gone');
    assert.equal(await a.command('UNREGISTER t#ephemeral'), 'OK');
    assert.deepEqual(keys(l, 'topic', '*', ''), ['t#ephemeral:']);
    assert.equal(await b.command('UNREGISTER t#ephemeral'), 'OK');
    assert.deepEqual(keys(l, 'topic', '*', ''), [], 'the ephemeral topic key is gone');
    // non-ephemeral keys stay
    assert.equal(await a.command('REGISTER u c'), 'OK');
    assert.equal(await a.command('UNREGISTER u c'), 'OK');
    assert.equal(await a.command('UNREGISTER u'), 'OK');
    assert.deepEqual(keys(l, 'topic', '*', ''), ['u:']);
    assert.deepEqual(keys(l, 'channel'), ['u:c']);
  });
});

test('a closed connection leaves every registration; the keys stay', T, async () => {
  await withLookupd(async (connect, l) => {
    const a = await connect();
    await a.identify(peer());
    const b = await connect();
    await b.identify(peer({ broadcast_address: 'other' }));
    assert.equal(await a.command('REGISTER t c'), 'OK');
    assert.equal(await b.command('REGISTER t c'), 'OK');
    assert.equal(producers(l, 'client', '').length, 2);
    a.destroy();
    const deadline = Date.now() + 2000;
    while (producers(l, 'topic', 't').length !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(producers(l, 'topic', 't').length, 1, 'a left the topic');
    assert.equal(producers(l, 'channel', 't', 'c').length, 1, 'and the channel');
    assert.equal(producers(l, 'client', '').length, 1, 'and client::');
    b.wire.end();
    await b.expectClose();
    const deadline2 = Date.now() + 2000;
    while (producers(l, 'client', '').length > 0 && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(producers(l, 'client', ''), []);
    assert.deepEqual(keys(l, 'channel'), ['t:c'], 'keys stay with no producers');
  });
});

test('input in pieces and in bulk: an IDENTIFY fed byte by byte, 10,000 pipelined REGISTERs', T, async () => {
  await withLookupd(async (connect, l) => {
    const c = await connect();
    await c.wire.writeInPieces(bytes(identifyCommand(peer()), 'REGISTER split ch\n'), 3, 0);
    assert.equal(await c.read(), l.lookupd.identifyResponse());
    assert.equal(await c.read(), 'OK');
    const n = 10_000;
    let text = '';
    for (let i = 0; i < n; i++) text += `REGISTER topic_${i} ch\n`;
    const t0 = performance.now();
    c.write(text);
    const all = await c.wire.readBytes(6 * n, 10_000);
    const ms = performance.now() - t0;
    assert.deepEqual(all, bytes(...Array.from({ length: n }, () => OK)), `${n} OKs`);
    assert.equal(keys(l, 'topic', '*', '').length, n + 1);
    assert.ok(ms < 5000, `${n} REGISTERs took ${ms.toFixed(0)} ms`);
  });
});

test('a command line longer than 16 KiB closes the connection without a reply', T, async () => {
  await withLookupd(async (connect) => {
    const c = await connect();
    c.write('REGISTER ' + 'x'.repeat(20_000));
    await c.expectClose();
    assert.equal(c.wire.pending(), 0);
  });
});
