// The V2 TCP protocol through real sockets: every command, every error text
// and which errors close the connection (PROTOCOL.md 2.1-2.8, 2.11, 2.14).
// Error texts are compared byte for byte with Go nsqd 1.3.0's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withServingNsqd, type Connect } from '../helpers/nsqd.ts';
import { bytes, decodeMessage, FRAME_ERROR, FRAME_RESPONSE, int32, mpubBody, withBody, WireClient, type WireMessage } from '../helpers/wire.ts';

const T = { timeout: 15_000 };
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** One byte per char: for lines that carry raw (non-UTF-8) bytes. */
const latin1 = (s: string) => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
const utf8 = (s: string) => new TextEncoder().encode(s);
const ID0 = '0000000000000000';



/** A fatal error: exactly this error frame, then the server closes the connection. */
async function expectFatal(c: WireClient, text: string): Promise<void> {
  await c.expectError(text);
  await c.expectClose();
  assert.equal(c.pending(), 0, `nothing may follow the fatal error ${JSON.stringify(text)}`);
}

/** Sends `data` on a new connection and expects the fatal error `text`. */
async function fatalOnNewConnection(connect: Connect, data: string | Uint8Array, text: string, before?: (c: WireClient) => Promise<void>): Promise<void> {
  const c = await connect();
  if (before) await before(c);
  c.write(data);
  await expectFatal(c, text);
}

/** A non-fatal error leaves the connection usable: a PUB still gets its OK. */
async function expectStillOpen(c: WireClient, topic = 'alive'): Promise<void> {
  await c.pub(topic, 'x');
  assert.equal(c.closed, false);
}

async function consumer(connect: Connect, topic: string, channel: string, rdy?: number): Promise<WireClient> {
  const c = await connect();
  await c.sub(topic, channel, rdy);
  return c;
}

async function readMessages(c: WireClient, n: number, ms = 2000): Promise<WireMessage[]> {
  const out: WireMessage[] = [];
  for (let i = 0; i < n; i++) out.push(await c.readMessage(ms));
  return out;
}

// ---------------------------------------------------------------- 2.1 magic

test('bad magic: one framed E_BAD_PROTOCOL, byte for byte, then close', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    for (const magic of ['  V1', 'V2  ', 'GET ', '\0\0\0\0']) {
      const c = await connect({ magic: false });
      c.write(magic);
      assert.deepEqual(
        await c.readBytes(22),
        bytes([0, 0, 0, 0x12, 0, 0, 0, 1], 'E_BAD_PROTOCOL'),
        `after magic ${JSON.stringify(magic)}`,
      );
      await c.expectClose();
      assert.equal(c.pending(), 0);
    }
  });
});

test('magic split across chunks, and magic sharing a chunk with the first command', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const a = await connect({ magic: false });
    for (const part of [' ', ' V', '2']) {
      await a.send(part);
      await sleep(10);
    }
    await a.pub('magic', 'split');

    const b = await connect({ magic: false });
    b.write(bytes('  V2', withBody('PUB magic\n', 'joined')));
    await b.expectResponse('OK');

    const c = await connect({ magic: false });
    await c.send(' ');
    await sleep(10);
    c.write(' V3');
    await expectFatal(c, 'E_BAD_PROTOCOL');
  });
});

// ---------------------------------------------------------------- IDENTIFY

test('IDENTIFY without feature_negotiation answers the plain OK frame', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const c = await connect();
    c.write(withBody('IDENTIFY\n', '{"client_id":"x","short_id":"s","long_id":"l","unknown":[1,{"a":null}]}'));
    assert.deepEqual(await c.readBytes(10), bytes([0, 0, 0, 6, 0, 0, 0, 0], 'OK'));
    // feature_negotiation false and a JSON null body are the same as no negotiation
    const d = await connect();
    d.write(withBody('IDENTIFY\n', '{"feature_negotiation":false}'));
    await d.expectResponse('OK');
    const e = await connect();
    e.write(withBody('IDENTIFY\n', 'null'));
    await e.expectResponse('OK');
    // a second IDENTIFY while still in state init is accepted
    e.write(withBody('IDENTIFY\n', '{}'));
    await e.expectResponse('OK');
    await expectStillOpen(e);
  });
});

test('IDENTIFY with feature_negotiation: the exact JSON of a Go nsqd 1.3.0', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const c = await connect();
    const f = await c.identify({ feature_negotiation: true });
    assert.equal(f.type, FRAME_RESPONSE);
    assert.equal(
      f.text,
      '{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,' +
        '"tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,' +
        '"sample_rate":0,"auth_required":false,"output_buffer_size":16384,"output_buffer_timeout":250,' +
        '"topology_region":"","topology_zone":""}',
    );
    await expectStillOpen(c);
  });
});

test('IDENTIFY echoes the accepted settings and refuses TLS, snappy and deflate', T, async () => {
  const opts = { maxRdyCount: 50, maxMsgTimeout: 100_000, maxDeflateLevel: 3, outputBufferTimeout: 300 };
  await withServingNsqd(opts, async (_d, connect) => {
    const c = await connect();
    const f = await c.identify({
      feature_negotiation: true,
      client_id: 'c1',
      hostname: 'h1',
      user_agent: 'test/1.0',
      heartbeat_interval: 5000,
      msg_timeout: 5000,
      output_buffer_size: 1024,
      output_buffer_timeout: 100,
      sample_rate: 42,
      tls_v1: true,
      snappy: true,
      deflate: true,
      deflate_level: 9,
    });
    assert.equal(
      f.text,
      '{"max_rdy_count":50,"version":"1.3.0","max_msg_timeout":100000,"msg_timeout":5000,' +
        '"tls_v1":false,"deflate":false,"deflate_level":3,"max_deflate_level":3,"snappy":false,' +
        '"sample_rate":42,"auth_required":false,"output_buffer_size":1024,"output_buffer_timeout":100,' +
        '"topology_region":"","topology_zone":""}',
    );
    // asking for both compressions is no error when neither is offered; the connection goes on uncompressed
    await expectStillOpen(c);

    // -1 output buffer size: size 1 and no timed flush; -1 timeout: no timed flush; 0s keep the defaults
    const d = await connect();
    const g = JSON.parse((await d.identify({ feature_negotiation: true, output_buffer_size: -1 })).text);
    assert.deepEqual([g.output_buffer_size, g.output_buffer_timeout], [1, 0]);
    const e = await connect();
    const h = JSON.parse((await e.identify({ feature_negotiation: true, output_buffer_timeout: -1, msg_timeout: 0 })).text);
    assert.deepEqual([h.output_buffer_size, h.output_buffer_timeout, h.msg_timeout], [16384, 0, 60000]);
    const k = await connect();
    const m = JSON.parse((await k.identify({ feature_negotiation: true, heartbeat_interval: 0, output_buffer_size: 0, output_buffer_timeout: 0, sample_rate: 0 })).text);
    assert.deepEqual([m.output_buffer_size, m.output_buffer_timeout, m.sample_rate, m.msg_timeout], [16384, 300, 0, 60000]);
  });
});

test('IDENTIFY body size errors', T, async () => {
  await withServingNsqd({ maxBodySize: 1024, maxMsgSize: 1024 }, async (_d, connect) => {
    await fatalOnNewConnection(connect, bytes('IDENTIFY\n', int32(1025)), 'E_BAD_BODY IDENTIFY body too big 1025 > 1024');
    await fatalOnNewConnection(connect, bytes('IDENTIFY\n', int32(0)), 'E_BAD_BODY IDENTIFY invalid body size 0');
    await fatalOnNewConnection(connect, bytes('IDENTIFY\n', int32(-1)), 'E_BAD_BODY IDENTIFY invalid body size -1');
    await fatalOnNewConnection(connect, bytes('IDENTIFY\n', int32(-2147483648)), 'E_BAD_BODY IDENTIFY invalid body size -2147483648');
    // the largest allowed body is read whole (here: JSON padded with spaces)
    const c = await connect();
    c.write(withBody('IDENTIFY\n', '{}'.padEnd(1024, ' ')));
    await c.expectResponse('OK');
  });
});

test('IDENTIFY bodies that are not a JSON object of the right types', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    for (const body of [
      '{', 'not json', ' ', '{"a":1}x', '[1,2]', '[]', '"str"', '42', 'true',
      '{"heartbeat_interval":"1000"}', '{"heartbeat_interval":1000.5}', '{"feature_negotiation":1}', '{"client_id":5}',
      '{"heartbeat_interval":1e20}', '{"sample_rate":2147483648}', '{"SAMPLE_RATE":-2147483649}', '\ufeff{}',
    ]) {
      const c = await connect();
      c.write(withBody('IDENTIFY\n', body));
      await c.expectError('E_BAD_BODY IDENTIFY failed to decode JSON body').catch((err: Error) => assert.fail(`${body}: ${err.message}`));
      await c.expectClose();
    }
  });
});

test('IDENTIFY keys match case-insensitively, the last one for a field winning, as Go decodes them', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const c = await connect();
    assert.equal((await c.identify({ HEARTBEAT_INTERVAL: -1 })).text, 'OK');
    c.write('SUB t ch\n');
    await expectFatal(c, 'E_INVALID cannot SUB with heartbeats disabled');
    await fatalOnNewConnection(connect, withBody('IDENTIFY\n', '{"Sample_Rate":100}'), 'E_BAD_BODY IDENTIFY sample rate (100) is invalid');
    const d = await connect();
    assert.equal((await d.identify({ heartbeat_interval: -1, Heartbeat_Interval: 1000 })).text, 'OK');
    await d.sub('t', 'ch');
    const e = await connect();
    const f = JSON.parse((await e.identify({ Feature_Negotiation: true, MSG_TIMEOUT: 2000, sample_rate: 5, sample_Rate: 7 })).text);
    assert.deepEqual([f.msg_timeout, f.sample_rate], [2000, 7]);
  });
});

test('IDENTIFY invalid values, each with its exact text, in Go validation order', T, async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ heartbeat_interval: 999 }, 'heartbeat interval (999) is invalid'],
    [{ heartbeat_interval: 60001 }, 'heartbeat interval (60001) is invalid'],
    [{ heartbeat_interval: -2 }, 'heartbeat interval (-2) is invalid'],
    [{ output_buffer_timeout: 24 }, 'output buffer timeout (24) is invalid'],
    [{ output_buffer_timeout: 30001 }, 'output buffer timeout (30001) is invalid'],
    [{ output_buffer_timeout: -2 }, 'output buffer timeout (-2) is invalid'],
    [{ output_buffer_size: 63 }, 'output buffer size (63) is invalid'],
    [{ output_buffer_size: 65537 }, 'output buffer size (65537) is invalid'],
    [{ output_buffer_size: -2 }, 'output buffer size (-2) is invalid'],
    [{ sample_rate: -1 }, 'sample rate (-1) is invalid'],
    [{ sample_rate: 100 }, 'sample rate (100) is invalid'],
    [{ msg_timeout: 999 }, 'msg timeout (999) is invalid'],
    [{ msg_timeout: 900001 }, 'msg timeout (900001) is invalid'],
    [{ msg_timeout: -1 }, 'msg timeout (-1) is invalid'],
    // order: heartbeat, output buffer timeout, output buffer size, sample rate, msg timeout
    [{ msg_timeout: 1, sample_rate: 100, output_buffer_size: 1, output_buffer_timeout: 1, heartbeat_interval: 1 }, 'heartbeat interval (1) is invalid'],
    [{ msg_timeout: 1, sample_rate: 100, output_buffer_size: 1, output_buffer_timeout: 1 }, 'output buffer timeout (1) is invalid'],
    [{ msg_timeout: 1, sample_rate: 100, output_buffer_size: 1 }, 'output buffer size (1) is invalid'],
    [{ msg_timeout: 1, sample_rate: 100 }, 'sample rate (100) is invalid'],
  ];
  await withServingNsqd({}, async (_d, connect) => {
    for (const [body, text] of cases) {
      await fatalOnNewConnection(connect, withBody('IDENTIFY\n', JSON.stringify({ feature_negotiation: true, ...body })), `E_BAD_BODY IDENTIFY ${text}`);
    }
  });
  // the bounds follow the options
  await withServingNsqd({ maxHeartbeatInterval: 2000, minOutputBufferTimeout: 50, maxOutputBufferTimeout: 60, maxOutputBufferSize: 100, maxMsgTimeout: 3000 }, async (_d, connect) => {
    for (const [body, text] of [
      [{ heartbeat_interval: 2001 }, 'heartbeat interval (2001) is invalid'],
      [{ output_buffer_timeout: 49 }, 'output buffer timeout (49) is invalid'],
      [{ output_buffer_timeout: 61 }, 'output buffer timeout (61) is invalid'],
      [{ output_buffer_size: 101 }, 'output buffer size (101) is invalid'],
      [{ msg_timeout: 3001 }, 'msg timeout (3001) is invalid'],
    ] as const) {
      await fatalOnNewConnection(connect, withBody('IDENTIFY\n', JSON.stringify(body)), `E_BAD_BODY IDENTIFY ${text}`);
    }
    const c = await connect();
    const f = await c.identify({ feature_negotiation: true, heartbeat_interval: 2000, output_buffer_timeout: 60, output_buffer_size: 100, msg_timeout: 3000 });
    const j = JSON.parse(f.text);
    assert.deepEqual([j.output_buffer_timeout, j.output_buffer_size, j.msg_timeout, j.max_msg_timeout], [60, 100, 3000, 3000]);
  });
});

test('IDENTIFY after SUB or CLS: cannot IDENTIFY in current state', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const c = await consumer(connect, 'ident', 'ch');
    c.write(withBody('IDENTIFY\n', '{}'));
    await expectFatal(c, 'E_INVALID cannot IDENTIFY in current state');
    const d = await consumer(connect, 'ident', 'ch');
    d.write('CLS\n');
    await d.expectResponse('CLOSE_WAIT');
    // refused before the body is read: no body needed
    d.write('IDENTIFY\n');
    await expectFatal(d, 'E_INVALID cannot IDENTIFY in current state');
  });
});

// ---------------------------------------------------------------- AUTH

test('AUTH: disabled, parameter count, state and body size', T, async () => {
  await withServingNsqd({ maxBodySize: 100, maxMsgSize: 100 }, async (_d, connect) => {
    await fatalOnNewConnection(connect, withBody('AUTH\n', 'secret'), 'E_AUTH_DISABLED AUTH disabled');
    // the parameter check comes before the body is read
    await fatalOnNewConnection(connect, 'AUTH secret\n', 'E_INVALID AUTH invalid number of parameters');
    await fatalOnNewConnection(connect, 'AUTH \n', 'E_INVALID AUTH invalid number of parameters');
    await fatalOnNewConnection(connect, bytes('AUTH\n', int32(101)), 'E_BAD_BODY AUTH body too big 101 > 100');
    await fatalOnNewConnection(connect, bytes('AUTH\n', int32(0)), 'E_BAD_BODY AUTH invalid body size 0');
    await fatalOnNewConnection(connect, bytes('AUTH\n', int32(-7)), 'E_BAD_BODY AUTH invalid body size -7');
    const c = await consumer(connect, 'auth', 'ch');
    c.write(withBody('AUTH\n', 'secret'));
    await expectFatal(c, 'E_INVALID cannot AUTH in current state');
  });
});

// ---------------------------------------------------------------- SUB

test('SUB parameter and name errors, with Go %q quoting', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    await fatalOnNewConnection(connect, 'SUB\n', 'E_INVALID SUB insufficient number of parameters');
    await fatalOnNewConnection(connect, 'SUB topic\n', 'E_INVALID SUB insufficient number of parameters');
    await fatalOnNewConnection(connect, 'SUB a:b ch\n', 'E_BAD_TOPIC SUB topic name "a:b" is not valid');
    await fatalOnNewConnection(connect, 'SUB  ch\n', 'E_BAD_TOPIC SUB topic name "" is not valid');
    await fatalOnNewConnection(connect, 'SUB #ephemeral ch\n', 'E_BAD_TOPIC SUB topic name "#ephemeral" is not valid');
    await fatalOnNewConnection(connect, `SUB ${'t'.repeat(65)} ch\n`, `E_BAD_TOPIC SUB topic name "${'t'.repeat(65)}" is not valid`);
    await fatalOnNewConnection(connect, 'SUB a"b\\c\td ch\n', 'E_BAD_TOPIC SUB topic name "a\\"b\\\\c\\td" is not valid');
    await fatalOnNewConnection(connect, 'SUB topic a/b\n', 'E_BAD_CHANNEL SUB channel name "a/b" is not valid');
    await fatalOnNewConnection(connect, 'SUB topic \n', 'E_BAD_CHANNEL SUB channel name "" is not valid');
    await fatalOnNewConnection(connect, `SUB topic ${'c'.repeat(55)}#ephemeral\n`, `E_BAD_CHANNEL SUB channel name "${'c'.repeat(55)}#ephemeral" is not valid`);
    // the topic is checked first
    await fatalOnNewConnection(connect, 'SUB a:b c:d\n', 'E_BAD_TOPIC SUB topic name "a:b" is not valid');
    // names at the limits are fine
    const c = await connect();
    await c.sub('t'.repeat(64), `${'c'.repeat(54)}#ephemeral`);
  });
});

test('SUB name quoting of non-ASCII and control bytes is Go strconv.Quote', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    // printable UTF-8 is kept, invalid bytes become \xNN, non-printable runes \uNNNN / \UNNNNNNNN
    const cases: [Uint8Array, string][] = [
      [utf8('café'), '"café"'],
      [utf8('😀'), '"😀"'],
      [latin1('a\x01\x7fb'), '"a\\x01\\x7fb"'],
      [latin1('\x07\x08\x0c\x0b\r'), '"\\a\\b\\f\\v\\r"'],
      [latin1('\xff\xfe'), '"\\xff\\xfe"'],
      [latin1('\xc3'), '"\\xc3"'],
      [latin1('\xc0\x80'), '"\\xc0\\x80"'],
      [latin1('\xed\xa0\x80'), '"\\xed\\xa0\\x80"'],
      [utf8('\u00a0\u200b\ue000'), '"\\u00a0\\u200b\\ue000"'],
      [utf8('\u{10ffff}'), '"\\U0010ffff"'],
      [utf8('\ufffd'), '"\ufffd"'],
    ];
    for (const [name, quoted] of cases) {
      const c = await connect();
      c.write(bytes('SUB ', name, ' ch\n'));
      const f = await c.readFrame();
      assert.equal(f.type, FRAME_ERROR);
      assert.deepEqual(f.data, bytes('E_BAD_TOPIC SUB topic name ', utf8(quoted), ' is not valid'), `quoting ${quoted}`);
      await c.expectClose();
    }
  });
});

test('SUB twice, SUB after CLS: cannot SUB in current state', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const c = await consumer(connect, 'twice', 'ch');
    c.write('SUB twice ch2\n');
    await expectFatal(c, 'E_INVALID cannot SUB in current state');
    const d = await consumer(connect, 'twice', 'ch');
    d.write('CLS\n');
    await d.expectResponse('CLOSE_WAIT');
    d.write('SUB twice ch\n');
    await expectFatal(d, 'E_INVALID cannot SUB in current state');
  });
});

test('SUB with heartbeats disabled is refused before the parameters are checked', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const c = await connect();
    await c.identify({ heartbeat_interval: -1 });
    c.write('SUB\n');
    await expectFatal(c, 'E_INVALID cannot SUB with heartbeats disabled');
  });
});

test('SUB beyond --max-channel-consumers: E_SUB_FAILED with the limit', T, async () => {
  await withServingNsqd({ maxChannelConsumers: 2 }, async (_d, connect) => {
    await consumer(connect, 'limited', 'ch');
    const second = await consumer(connect, 'limited', 'ch');
    await fatalOnNewConnection(connect, 'SUB limited ch\n', 'E_SUB_FAILED SUB failed consumers for limited:ch exceeds limit of 2');
    // another channel of the topic has its own count; a freed place can be taken again
    await consumer(connect, 'limited', 'other');
    second.destroy();
    await second.expectClose();
    await sleep(100);
    await consumer(connect, 'limited', 'ch');
  });
});

// ---------------------------------------------------------------- PUB, DPUB, MPUB

test('PUB errors', T, async () => {
  await withServingNsqd({ maxMsgSize: 100 }, async (_d, connect) => {
    await fatalOnNewConnection(connect, 'PUB\n', 'E_INVALID PUB insufficient number of parameters');
    await fatalOnNewConnection(connect, withBody('PUB a*b\n', 'x'), 'E_BAD_TOPIC PUB topic name "a*b" is not valid');
    await fatalOnNewConnection(connect, withBody('PUB \n', 'x'), 'E_BAD_TOPIC PUB topic name "" is not valid');
    await fatalOnNewConnection(connect, bytes('PUB t\n', int32(0)), 'E_BAD_MESSAGE PUB invalid message body size 0');
    await fatalOnNewConnection(connect, bytes('PUB t\n', int32(-1)), 'E_BAD_MESSAGE PUB invalid message body size -1');
    await fatalOnNewConnection(connect, bytes('PUB t\n', int32(101)), 'E_BAD_MESSAGE PUB message too big 101 > 100');
    await fatalOnNewConnection(connect, bytes('PUB t\n', int32(0x7fffffff)), 'E_BAD_MESSAGE PUB message too big 2147483647 > 100');
    // extra parameters are ignored; a body of exactly --max-msg-size is delivered whole
    const c = await connect();
    const big = 'm'.repeat(100);
    c.write(withBody('PUB t extra params\n', big));
    await c.expectResponse('OK');
    const sub = await consumer(connect, 't', 'ch', 1);
    assert.equal((await sub.readMessage()).body, big);
  });
});

test('DPUB errors, exact texts', T, async () => {
  await withServingNsqd({ maxMsgSize: 100 }, async (_d, connect) => {
    await fatalOnNewConnection(connect, 'DPUB\n', 'E_INVALID DPUB insufficient number of parameters');
    await fatalOnNewConnection(connect, 'DPUB t\n', 'E_INVALID DPUB insufficient number of parameters');
    await fatalOnNewConnection(connect, withBody('DPUB a!b abc\n', 'x'), 'E_BAD_TOPIC DPUB topic name "a!b" is not valid');
    await fatalOnNewConnection(connect, withBody('DPUB t abc\n', 'x'), 'E_INVALID DPUB could not parse timeout abc');
    await fatalOnNewConnection(connect, withBody('DPUB t -1\n', 'x'), 'E_INVALID DPUB could not parse timeout -1');
    await fatalOnNewConnection(connect, withBody('DPUB t 1.5\n', 'x'), 'E_INVALID DPUB could not parse timeout 1.5');
    await fatalOnNewConnection(connect, withBody('DPUB t 3600001\n', 'x'), 'E_INVALID DPUB timeout 3600001 out of range 0-3600000');
    await fatalOnNewConnection(connect, withBody('DPUB t 99999999999\n', 'x'), 'E_INVALID DPUB timeout 99999999999 out of range 0-3600000');
    // Go's uint64 ms times 1e6 as an int64 duration wraps; the text shows the uint64
    await fatalOnNewConnection(connect, withBody('DPUB t 9223372036855\n', 'x'), 'E_INVALID DPUB timeout 9223372036855 out of range 0-3600000');
    await fatalOnNewConnection(connect, withBody('DPUB t 18446744073709551615\n', 'x'), 'E_INVALID DPUB timeout 18446744073709551615 out of range 0-3600000');
    await fatalOnNewConnection(connect, withBody('DPUB t 99999999999999999999\n', 'x'), 'E_INVALID DPUB timeout 7766279631452241919 out of range 0-3600000');
    // the timeout is checked before the body size
    await fatalOnNewConnection(connect, bytes('DPUB t 3600001\n', int32(0)), 'E_INVALID DPUB timeout 3600001 out of range 0-3600000');
    await fatalOnNewConnection(connect, bytes('DPUB t 10\n', int32(0)), 'E_BAD_MESSAGE DPUB invalid message body size 0');
    await fatalOnNewConnection(connect, bytes('DPUB t 10\n', int32(-3)), 'E_BAD_MESSAGE DPUB invalid message body size -3');
    await fatalOnNewConnection(connect, bytes('DPUB t 10\n', int32(101)), 'E_BAD_MESSAGE DPUB message too big 101 > 100');
    const c = await connect();
    c.write(withBody('DPUB t 3600000\n', 'max defer'));
    await c.expectResponse('OK');
  });
  await withServingNsqd({ maxReqTimeout: 5000 }, async (_d, connect) => {
    await fatalOnNewConnection(connect, withBody('DPUB t 5001\n', 'x'), 'E_INVALID DPUB timeout 5001 out of range 0-5000');
  });
});

test('DPUB 0 is an ordinary publish; DPUB N waits N ms in the channel', T, async () => {
  await withServingNsqd({ queueScanInterval: 20, queueScanRefreshInterval: 50 }, async (_d, connect) => {
    const sub = await consumer(connect, 'dpub', 'ch', 10);
    const p = await connect();
    p.write(withBody('DPUB dpub 0\n', 'now'));
    await p.expectResponse('OK');
    const m = await sub.readMessage(500);
    assert.deepEqual([m.body, m.attempts], ['now', 1]);
    sub.write(`FIN ${m.id}\n`);
    // 2^64 ms wraps to 0 in Go's uint64 parse: an ordinary publish too
    p.write(withBody('DPUB dpub 18446744073709551616\n', 'wrapped'));
    await p.expectResponse('OK');
    const w = await sub.readMessage(500);
    assert.equal(w.body, 'wrapped');
    sub.write(`FIN ${w.id}\n`);

    const t0 = performance.now();
    p.write(withBody('DPUB dpub 400\n', 'later'));
    await p.expectResponse('OK');
    await sub.expectSilence(250);
    const n = await sub.readMessage(2000);
    assert.deepEqual([n.body, n.attempts], ['later', 1]);
    assert.ok(performance.now() - t0 >= 380, `deferred message came after ${performance.now() - t0} ms`);
  });
});

test('MPUB errors, including the doubled E_BAD_TOPIC', T, async () => {
  await withServingNsqd({ maxBodySize: 1000, maxMsgSize: 10 }, async (_d, connect) => {
    const body = mpubBody(['a', 'b']);
    await fatalOnNewConnection(connect, 'MPUB\n', 'E_INVALID MPUB insufficient number of parameters');
    await fatalOnNewConnection(connect, bytes('MPUB a%b\n', int32(body.length), body), 'E_BAD_TOPIC E_BAD_TOPIC MPUB topic name "a%b" is not valid');
    await fatalOnNewConnection(connect, bytes('MPUB t\n', int32(0)), 'E_BAD_BODY MPUB invalid body size 0');
    await fatalOnNewConnection(connect, bytes('MPUB t\n', int32(-5)), 'E_BAD_BODY MPUB invalid body size -5');
    await fatalOnNewConnection(connect, bytes('MPUB t\n', int32(1001)), 'E_BAD_BODY MPUB body too big 1001 > 1000');
    await fatalOnNewConnection(connect, bytes('MPUB t\n', int32(4), int32(0)), 'E_BAD_BODY MPUB invalid message count 0');
    await fatalOnNewConnection(connect, bytes('MPUB t\n', int32(4), int32(-1)), 'E_BAD_BODY MPUB invalid message count -1');
    // at most (max-body-size - 4) / 5 = 199 messages
    await fatalOnNewConnection(connect, bytes('MPUB t\n', int32(1000), int32(200)), 'E_BAD_BODY MPUB invalid message count 200');
    await fatalOnNewConnection(connect, bytes('MPUB t\n', int32(13), int32(2), int32(1), 'a', int32(0)), 'E_BAD_MESSAGE MPUB invalid message(1) body size 0');
    await fatalOnNewConnection(connect, bytes('MPUB t\n', int32(8), int32(1), int32(-3)), 'E_BAD_MESSAGE MPUB invalid message(0) body size -3');
    await fatalOnNewConnection(connect, bytes('MPUB t\n', int32(24), int32(2), int32(1), 'a', int32(11), 'x'.repeat(11)), 'E_BAD_MESSAGE MPUB message too big 11 > 10');
    // 199 one-byte messages fit
    const msgs = Array.from({ length: 199 }, (_, i) => String(i % 10));
    const ok = mpubBody(msgs);
    assert.equal(ok.length, 999);
    const c = await connect();
    c.write(bytes('MPUB t\n', int32(ok.length), ok));
    await c.expectResponse('OK');
  });
});

test('MPUB validates from the stream: an error shows before the announced body is complete', T, async () => {
  // Go nsqd reads the count and each message size as they arrive: it does not wait for body_size bytes.
  await withServingNsqd({ maxMsgSize: 10 }, async (_d, connect) => {
    await fatalOnNewConnection(connect, bytes('MPUB t\n', int32(1000), int32(0)), 'E_BAD_BODY MPUB invalid message count 0');
    await fatalOnNewConnection(connect, bytes('MPUB t\n', int32(1000), int32(3), int32(1), 'a', int32(-1)), 'E_BAD_MESSAGE MPUB invalid message(1) body size -1');
    await fatalOnNewConnection(connect, bytes('MPUB t\n', int32(1000), int32(3), int32(11)), 'E_BAD_MESSAGE MPUB message too big 11 > 10');
    // the same when the bad size arrives in a later chunk
    const c = await connect();
    await c.send(bytes('MPUB t\n', int32(1000), int32(3), int32(2), 'a'));
    await sleep(20);
    await c.send(bytes('b', int32(2)));
    await sleep(20);
    c.write(bytes('cd', int32(0)));
    await expectFatal(c, 'E_BAD_MESSAGE MPUB invalid message(2) body size 0');
  });
});

test('MPUB is all or nothing: a bad message after good ones queues none', T, async () => {
  await withServingNsqd({ maxMsgSize: 10 }, async (_d, connect) => {
    const sub = await consumer(connect, 'atomic', 'ch', 10);
    await fatalOnNewConnection(connect, bytes('MPUB atomic\n', int32(24), int32(2), int32(1), 'a', int32(11), 'x'.repeat(11)), 'E_BAD_MESSAGE MPUB message too big 11 > 10');
    await sub.expectSilence(100);
    const p = await connect();
    const body = mpubBody(['one', 'two', 'three']);
    p.write(bytes('MPUB atomic\n', int32(body.length), body));
    await p.expectResponse('OK');
    assert.deepEqual((await readMessages(sub, 3)).map((m) => m.body), ['one', 'two', 'three']);
  });
});

test('PUB, MPUB, DPUB and NOP are valid in every state', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const c = await connect();
    const body = mpubBody(['m']);
    const publish = async () => {
      c.write(withBody('PUB any\n', 'p'));
      c.write(bytes('MPUB any\n', int32(body.length), body));
      c.write(withBody('DPUB any 0\n', 'd'));
      c.write('NOP\n');
      for (let i = 0; i < 3; i++) await c.expectResponse('OK');
    };
    await publish();
    await c.sub('elsewhere', 'ch');
    await publish();
    c.write('CLS\n');
    await c.expectResponse('CLOSE_WAIT');
    await publish();
    await c.expectSilence(50);
  });
});

// ---------------------------------------------------------------- RDY

test('RDY without a count is RDY 1', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const p = await connect();
    for (const b of ['a', 'b', 'c']) await p.pub('rdy1', b);
    const c = await consumer(connect, 'rdy1', 'ch');
    c.write('RDY\n');
    const m = await c.readMessage();
    assert.equal(m.body, 'a');
    await c.expectSilence(150);
    c.write(`FIN ${m.id}\n`);
    assert.equal((await c.readMessage()).body, 'b');
    await c.expectSilence(150);
  });
});

test('RDY errors: state, parse, range', T, async () => {
  await withServingNsqd({ maxRdyCount: 50 }, async (_d, connect) => {
    await fatalOnNewConnection(connect, 'RDY 1\n', 'E_INVALID cannot RDY in current state');
    const sub = (c: WireClient) => c.sub('rdyerr', 'ch');
    await fatalOnNewConnection(connect, 'RDY abc\n', 'E_INVALID RDY could not parse count abc', sub);
    await fatalOnNewConnection(connect, 'RDY -1\n', 'E_INVALID RDY could not parse count -1', sub);
    await fatalOnNewConnection(connect, 'RDY +1\n', 'E_INVALID RDY could not parse count +1', sub);
    await fatalOnNewConnection(connect, 'RDY 51\n', 'E_INVALID RDY count 51 out of range 0-50', sub);
    await fatalOnNewConnection(connect, 'RDY 4294967296\n', 'E_INVALID RDY count 4294967296 out of range 0-50', sub);
    // Go parses into a uint64 that wraps, then takes it as an int64
    await fatalOnNewConnection(connect, 'RDY 18446744073709551615\n', 'E_INVALID RDY count -1 out of range 0-50', sub);
    await fatalOnNewConnection(connect, 'RDY 9223372036854775808\n', 'E_INVALID RDY count -9223372036854775808 out of range 0-50', sub);
    await fatalOnNewConnection(connect, 'RDY 9223372036854775807\n', 'E_INVALID RDY count 9223372036854775807 out of range 0-50', sub);
    const wrapped = await consumer(connect, 'rdyerr', 'ch');
    wrapped.write('RDY 18446744073709551616\n'); // 2^64 wraps to 0
    await wrapped.expectSilence(50);
    await expectStillOpen(wrapped);
    // the limit itself, 0, and an extra parameter are accepted silently
    const c = await consumer(connect, 'rdyerr', 'ch');
    c.write('RDY 50\nRDY 0\nRDY 7 extra\n');
    await c.expectSilence(50);
    await expectStillOpen(c);
  });
});

test('RDY is a level: up to RDY messages in flight; RDY 0 stops delivery', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const p = await connect();
    const body = mpubBody(['1', '2', '3', '4', '5', '6']);
    p.write(bytes('MPUB level\n', int32(body.length), body));
    await p.expectResponse('OK');
    const c = await consumer(connect, 'level', 'ch', 2);
    const [a, b] = await readMessages(c, 2);
    await c.expectSilence(100);
    c.write(`FIN ${a!.id}\n`);
    const third = await c.readMessage();
    assert.equal(third.body, '3');
    c.write(`RDY 0\nFIN ${b!.id}\nFIN ${third.id}\n`);
    await c.expectSilence(100);
    c.write('RDY 5\n');
    assert.deepEqual((await readMessages(c, 3)).map((m) => m.body), ['4', '5', '6']);
  });
});

// ---------------------------------------------------------------- FIN, REQ, TOUCH

test('FIN, REQ, TOUCH before SUB: fatal cannot <CMD> in current state', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    await fatalOnNewConnection(connect, `FIN ${ID0}\n`, 'E_INVALID cannot FIN in current state');
    await fatalOnNewConnection(connect, `REQ ${ID0} 0\n`, 'E_INVALID cannot REQ in current state');
    await fatalOnNewConnection(connect, `TOUCH ${ID0}\n`, 'E_INVALID cannot TOUCH in current state');
  });
});

test('FIN, REQ, TOUCH parameter errors are fatal', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const sub = (c: WireClient) => c.sub('params', 'ch');
    await fatalOnNewConnection(connect, 'FIN\n', 'E_INVALID FIN insufficient number of params', sub);
    await fatalOnNewConnection(connect, `REQ ${ID0}\n`, 'E_INVALID REQ insufficient number of params', sub);
    await fatalOnNewConnection(connect, 'REQ\n', 'E_INVALID REQ insufficient number of params', sub);
    await fatalOnNewConnection(connect, 'TOUCH\n', 'E_INVALID TOUCH insufficient number of params', sub);
    await fatalOnNewConnection(connect, 'FIN abc\n', 'E_INVALID invalid message ID', sub);
    await fatalOnNewConnection(connect, `FIN ${ID0}0\n`, 'E_INVALID invalid message ID', sub);
    await fatalOnNewConnection(connect, 'FIN \n', 'E_INVALID invalid message ID', sub);
    await fatalOnNewConnection(connect, 'REQ 123456789012345 0\n', 'E_INVALID invalid message ID', sub);
    await fatalOnNewConnection(connect, 'TOUCH 12345678901234567\n', 'E_INVALID invalid message ID', sub);
    // the ID is checked before the timeout
    await fatalOnNewConnection(connect, 'REQ x abc\n', 'E_INVALID invalid message ID', sub);
    await fatalOnNewConnection(connect, `REQ ${ID0} abc\n`, 'E_INVALID REQ could not parse timeout abc', sub);
    await fatalOnNewConnection(connect, `REQ ${ID0} -5\n`, 'E_INVALID REQ could not parse timeout -5', sub);
  });
});

test('FIN, REQ, TOUCH of an unknown ID: non-fatal *_FAILED, the connection goes on', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const c = await consumer(connect, 'unknown', 'ch', 1);
    c.write(`FIN ${ID0}\nREQ ${ID0} 0\nTOUCH ${ID0}\nREQ ${ID0} 10 extra\n`);
    await c.expectError(`E_FIN_FAILED FIN ${ID0} failed ID not in flight`);
    await c.expectError(`E_REQ_FAILED REQ ${ID0} failed ID not in flight`);
    await c.expectError(`E_TOUCH_FAILED TOUCH ${ID0} failed ID not in flight`);
    await c.expectError(`E_REQ_FAILED REQ ${ID0} failed ID not in flight`);
    // the ID is not checked for hex: 16 arbitrary bytes are echoed as they came
    const id = latin1('\xff\x00abc_def\x80\xc3\xa9xyz!');
    assert.equal(id.length, 16);
    c.write(bytes('FIN ', id, '\n'));
    const f = await c.readFrame();
    assert.equal(f.type, FRAME_ERROR);
    assert.deepEqual(f.data, bytes('E_FIN_FAILED FIN ', id, ' failed ID not in flight'));
    // still subscribed and consuming
    await (await connect()).pub('unknown', 'after');
    const m = await c.readMessage();
    assert.equal(m.body, 'after');
    c.write(`FIN ${m.id}\n`);
    c.write(`FIN ${m.id}\n`);
    await c.expectError(`E_FIN_FAILED FIN ${m.id} failed ID not in flight`);
    await expectStillOpen(c);
  });
});

test('FIN, REQ, TOUCH of another client\'s message: client does not own message', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const a = await consumer(connect, 'owner', 'ch', 1);
    const b = await consumer(connect, 'owner', 'ch', 1);
    const p = await connect();
    await p.pub('owner', 'one');
    await p.pub('owner', 'two');
    const ma = await a.readMessage();
    const mb = await b.readMessage();
    assert.notEqual(ma.id, mb.id);
    b.write(`FIN ${ma.id}\nREQ ${ma.id} 0\nTOUCH ${ma.id}\n`);
    await b.expectError(`E_FIN_FAILED FIN ${ma.id} failed client does not own message`);
    await b.expectError(`E_REQ_FAILED REQ ${ma.id} failed client does not own message`);
    await b.expectError(`E_TOUCH_FAILED TOUCH ${ma.id} failed client does not own message`);
    // the owner still holds it; both go on normally
    a.write(`TOUCH ${ma.id}\nFIN ${ma.id}\n`);
    b.write(`FIN ${mb.id}\n`);
    await a.expectSilence(100);
    await expectStillOpen(a);
    await expectStillOpen(b);
  });
});

test('REQ 0 redelivers at once with attempts 2, same ID, body and timestamp', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const c = await consumer(connect, 'req0', 'ch', 1);
    await (await connect()).pub('req0', 'again');
    const m = await c.readMessage();
    assert.equal(m.attempts, 1);
    c.write(`REQ ${m.id} 0\n`);
    const n = await c.readMessage(500);
    assert.deepEqual([n.id, n.body, n.timestamp, n.attempts], [m.id, 'again', m.timestamp, 2]);
    c.write(`REQ ${n.id} 0\n`);
    assert.equal((await c.readMessage(500)).attempts, 3);
  });
});

test('REQ timeout is clamped to --max-req-timeout, not refused', T, async () => {
  await withServingNsqd({ maxReqTimeout: 300, queueScanInterval: 20, queueScanRefreshInterval: 50 }, async (_d, connect) => {
    const c = await consumer(connect, 'reqmax', 'ch', 1);
    await (await connect()).pub('reqmax', 'deferred');
    const m = await c.readMessage();
    const t0 = performance.now();
    c.write(`REQ ${m.id} 3600000000\n`);
    await c.expectSilence(150);
    const n = await c.readMessage(2000);
    const waited = performance.now() - t0;
    assert.deepEqual([n.id, n.attempts], [m.id, 2]);
    assert.ok(waited >= 280 && waited < 1500, `redelivered after ${waited} ms, expected about 300`);
    // a REQ with a timeout below the limit is kept as given
    const t1 = performance.now();
    c.write(`REQ ${n.id} 100\n`);
    const o = await c.readMessage(2000);
    assert.equal(o.attempts, 3);
    assert.ok(performance.now() - t1 >= 90);
    // a timeout whose Go duration wraps negative is clamped to 0: at once
    c.write(`REQ ${o.id} 18446744073709551615\n`);
    assert.equal((await c.readMessage(200)).attempts, 4);
  });
});

// ---------------------------------------------------------------- CLS

test('CLS: CLOSE_WAIT, no more messages, FIN/REQ/TOUCH still accepted, RDY ignored', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const c = await consumer(connect, 'cls', 'ch', 10);
    const p = await connect();
    await p.pub('cls', 'one');
    await p.pub('cls', 'two');
    const [m1, m2] = await readMessages(c, 2);
    c.write('CLS\n');
    assert.deepEqual(await c.readBytes(18), bytes([0, 0, 0, 14, 0, 0, 0, 0], 'CLOSE_WAIT'));
    await p.pub('cls', 'three');
    c.write('RDY 5\n');
    await c.expectSilence(150);
    c.write(`TOUCH ${m1!.id}\nFIN ${m1!.id}\nREQ ${m2!.id} 0\n`);
    await c.expectSilence(150);
    // the connection stays open until the client closes it
    assert.equal(c.closed, false);
    await expectStillOpen(c);
    // the requeued and the new message go to another consumer
    const d = await consumer(connect, 'cls', 'ch', 10);
    const got = await readMessages(d, 2);
    assert.deepEqual(got.map((m) => m.body).sort(), ['three', 'two']);
    assert.equal(got.find((m) => m.body === 'two')!.attempts, 2);
    // CLS again is fatal
    c.write('CLS\n');
    await expectFatal(c, 'E_INVALID cannot CLS in current state');
  });
});

test('CLS before SUB is fatal', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    await fatalOnNewConnection(connect, 'CLS\n', 'E_INVALID cannot CLS in current state');
  });
});

// ---------------------------------------------------------------- NOP, unknown commands, line handling

test('NOP has no response', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const c = await connect();
    c.write('NOP\nNOP\n');
    await c.expectSilence(100);
    c.write(withBody('PUB nop\n', 'x'));
    await c.expectResponse('OK');
    assert.equal(c.pending(), 0);
  });
});

test('unknown and empty commands: fatal E_INVALID invalid command <name>', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    await fatalOnNewConnection(connect, 'BOGUS\n', 'E_INVALID invalid command BOGUS');
    await fatalOnNewConnection(connect, 'pub t\n', 'E_INVALID invalid command pub');
    await fatalOnNewConnection(connect, 'NOP2 x y\n', 'E_INVALID invalid command NOP2');
    await fatalOnNewConnection(connect, ' PUB t\n', 'E_INVALID invalid command ');
    await fatalOnNewConnection(connect, '\n', 'E_INVALID invalid command ');
    await fatalOnNewConnection(connect, '\r\n', 'E_INVALID invalid command ');
    await fatalOnNewConnection(connect, 'NOP\r\r\n', 'E_INVALID invalid command NOP\r');
    // the name is echoed as the bytes that came
    const c = await connect();
    c.write(latin1('P\xdcB\xff\n'));
    const f = await c.readFrame();
    assert.equal(f.type, FRAME_ERROR);
    assert.deepEqual(f.data, bytes('E_INVALID invalid command ', latin1('P\xdcB\xff')));
    await c.expectClose();
    // commands before the bad one in the same chunk are executed and answered first
    const d = await connect();
    d.write(bytes(withBody('PUB t\n', 'x'), 'BAD\n', withBody('PUB t\n', 'never')));
    await d.expectResponse('OK');
    await expectFatal(d, 'E_INVALID invalid command BAD');
  });
});

test('\\r\\n line endings work for every command', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const c = await connect();
    c.write(withBody('IDENTIFY\r\n', '{}'));
    await c.expectResponse('OK');
    c.write(withBody('PUB crlf\r\n', 'a'));
    const body = mpubBody(['b']);
    c.write(bytes('MPUB crlf\r\n', int32(body.length), body));
    c.write(withBody('DPUB crlf 0\r\n', 'c'));
    c.write('NOP\r\nSUB crlf ch\r\nRDY 3\r\n');
    for (let i = 0; i < 4; i++) await c.expectResponse('OK');
    const ms = await readMessages(c, 3);
    assert.deepEqual(ms.map((m) => m.body), ['a', 'b', 'c']);
    c.write(`FIN ${ms[0]!.id}\r\nREQ ${ms[1]!.id} 0\r\nTOUCH ${ms[2]!.id}\r\n`);
    assert.equal((await c.readMessage()).attempts, 2);
    c.write('CLS\r\n');
    await c.expectResponse('CLOSE_WAIT');
  });
});

test('a command line of 16385+ bytes closes the connection without an error frame', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    // 16384 bytes with the newline still fit nsqd's read buffer
    const fits = await connect();
    fits.write(`${'X'.repeat(16383)}\n`);
    await expectFatal(fits, `E_INVALID invalid command ${'X'.repeat(16383)}`);
    const fitsParams = await connect();
    fitsParams.write(withBody(`PUB long ${'p'.repeat(16373)}\n`, 'x'));
    await fitsParams.expectResponse('OK');
    for (const line of [`${'X'.repeat(16384)}\n`, `PUB t ${'p'.repeat(20000)}\n`, 'X'.repeat(16384), 'NOP '.repeat(10000)]) {
      const c = await connect();
      c.write(line);
      await c.expectClose();
      assert.equal(c.pending(), 0, 'no frame before the close');
    }
    // the same line split over several chunks
    const d = await connect();
    await d.send('N'.repeat(10000));
    await sleep(20);
    d.write(`${'N'.repeat(10000)}\n`);
    await d.expectClose();
    assert.equal(d.pending(), 0);
  });
});

test('fatal errors close only their own connection', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const sub = await consumer(connect, 'others', 'ch', 10);
    const p = await connect();
    await p.pub('others', 'before');
    const bad = await connect();
    bad.write('BOGUS\n');
    await expectFatal(bad, 'E_INVALID invalid command BOGUS');
    await p.pub('others', 'after');
    assert.deepEqual((await readMessages(sub, 2)).map((m) => m.body), ['before', 'after']);
    assert.equal(sub.closed || p.closed, false);
  });
});

test('the annotated sessions of PROTOCOL.md 2.14, byte for byte', T, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const okFrame = bytes([0, 0, 0, 6, 0, 0, 0, 0], 'OK');
    const prod = await connect();
    prod.write(withBody('PUB clicks\n', 'hello'));
    assert.deepEqual(await prod.readBytes(10), okFrame);
    prod.write(bytes('MPUB clicks\n', [0, 0, 0, 0x0f, 0, 0, 0, 2, 0, 0, 0, 1], 'a', [0, 0, 0, 2], 'bb'));
    assert.deepEqual(await prod.readBytes(10), okFrame);
    prod.write(withBody('DPUB clicks 1000\n', 'deferred'));
    assert.deepEqual(await prod.readBytes(10), okFrame);

    const cons = await connect();
    cons.write(bytes('IDENTIFY\n', [0, 0, 0, 0x11], '{"client_id":"x"}'));
    assert.deepEqual(await cons.readBytes(10), okFrame);
    cons.write('SUB clicks archive\n');
    assert.deepEqual(await cons.readBytes(10), okFrame);
    const before = BigInt(Date.now() - 5000) * 1_000_000n;
    cons.write('RDY 1\n');
    const head = await cons.readBytes(8);
    assert.deepEqual(head, bytes([0, 0, 0, 4 + 26 + 5, 0, 0, 0, 2]));
    const payload = await cons.readBytes(31);
    const v = new DataView(payload.buffer, payload.byteOffset);
    const ts = v.getBigInt64(0);
    assert.ok(ts > before && ts <= BigInt(Date.now() + 1000) * 1_000_000n, `timestamp ${ts} in ns since the epoch`);
    assert.equal(v.getUint16(8), 1);
    const id = new TextDecoder().decode(payload.subarray(10, 26));
    assert.match(id, /^[0-9a-f]{16}$/);
    assert.equal(new TextDecoder().decode(payload.subarray(26)), 'hello');
    cons.write(`FIN ${id}\nNOP\nCLS\n`);
    // "a" and "bb" may come before CLOSE_WAIT: RDY 1 lets one more out after the FIN
    const frames: string[] = [];
    for (;;) {
      const f = await cons.readFrame();
      if (f.type === FRAME_RESPONSE) {
        assert.equal(f.text, 'CLOSE_WAIT');
        break;
      }
      frames.push(decodeMessage(f).body);
    }
    assert.ok(frames.length <= 1 && (frames.length === 0 || frames[0] === 'a'), `unexpected frames ${JSON.stringify(frames)}`);
  });
});
