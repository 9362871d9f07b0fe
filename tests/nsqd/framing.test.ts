// How nsqd frames commands from the byte stream (PROTOCOL.md 2.2): whatever
// the chunking, the same session gives the same replies; pipelined commands
// are answered in order; partial and truncated frames neither crash the
// server nor disturb its other clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withServingNsqd } from '../helpers/nsqd.ts';
import { bytes, decodeMessage, FRAME_ERROR, FRAME_MESSAGE, FRAME_RESPONSE, int32, mpubBody, withBody, WireClient, type WireMessage } from '../helpers/wire.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const ID0 = '0000000000000000';


/**
 * A whole client session as bytes: IDENTIFY, PUB, MPUB, DPUB, NOP, SUB, RDY,
 * FIN of an unknown ID (a non-fatal error with a known text), with \n and
 * \r\n line ends. `topic` must be 5 characters so every session has the same length.
 */
function session(topic: string): Uint8Array {
  assert.equal(topic.length, 5);
  const mpub = mpubBody(['two', 'three']);
  return bytes(
    withBody('IDENTIFY\n', '{"client_id":"split","heartbeat_interval":5000}'),
    withBody(`PUB ${topic}\n`, 'one'),
    bytes(`MPUB ${topic}\r\n`, int32(mpub.length), mpub),
    withBody(`DPUB ${topic} 0\n`, 'four'),
    'NOP\n',
    `SUB ${topic} ch\r\n`,
    'RDY 10\n',
    `FIN ${ID0}\n`,
  );
}

/** Reads what a session produces: the response/error texts in order, and the messages. */
async function readSession(c: WireClient): Promise<{ replies: string[]; messages: WireMessage[] }> {
  const replies: string[] = [];
  const messages: WireMessage[] = [];
  while (replies.length < 6 || messages.length < 4) {
    const f = await c.readNonHeartbeat(2000);
    if (f.type === FRAME_MESSAGE) messages.push(decodeMessage(f));
    else replies.push(`${f.type === FRAME_ERROR ? 'E' : 'R'}:${f.text}`);
  }
  return { replies, messages };
}

const EXPECTED_REPLIES = ['R:OK', 'R:OK', 'R:OK', 'R:OK', 'R:OK', `E:E_FIN_FAILED FIN ${ID0} failed ID not in flight`];

async function checkSession(c: WireClient, topic: string, where: string): Promise<void> {
  const { replies, messages } = await readSession(c);
  assert.deepEqual(replies, EXPECTED_REPLIES, where);
  assert.deepEqual(messages.map((m) => m.body), ['one', 'two', 'three', 'four'], where);
  assert.ok(messages.every((m) => m.attempts === 1), where);
  // the connection is subscribed and in sync: FIN everything, then a PUB is answered
  c.write(messages.map((m) => `FIN ${m.id}\n`).join(''));
  c.write(withBody(`PUB ${topic}\n`, 'end'));
  const m = await c.readNonHeartbeat();
  // the new message may come before or after the OK (it is delivered to this same connection)
  const n = await c.readNonHeartbeat();
  const kinds = [m, n].map((f) => (f.type === FRAME_MESSAGE ? `M:${decodeMessage(f).body}` : `${f.type}:${f.text}`)).sort();
  assert.deepEqual(kinds, [`${FRAME_RESPONSE}:OK`, 'M:end'], where);
}

test('a session split in two at every byte boundary gives the same replies', { timeout: 30_000 }, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const length = session('s0000').length;
    for (let cut = 1; cut < length; cut++) {
      const topic = `s${String(cut).padStart(4, '0')}`;
      const data = session(topic);
      const c = await connect();
      await c.send(data.subarray(0, cut));
      await sleep(1);
      await c.send(data.subarray(cut));
      await checkSession(c, topic, `split at byte ${cut} of ${length}`);
      c.destroy();
    }
  });
});

test('a session sent one byte per write gives the same replies', { timeout: 20_000 }, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const c = await connect();
    await c.writeInPieces(session('bytes'), 1, 0);
    await checkSession(c, 'bytes', 'one byte per write');
    // the magic too, one byte at a time
    const d = await WireClient.connect(_d.port, { magic: false });
    try {
      await d.writeInPieces(bytes('  V2', session('magic')), 1, 0);
      await checkSession(d, 'magic', 'one byte per write, magic included');
    } finally {
      d.destroy();
    }
  });
});

test('500 PUBs in one write: 500 OKs in order, every message delivered', { timeout: 20_000 }, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const sub = await connect();
    await sub.sub('many', 'ch', 1000);
    const p = await connect();
    const n = 500;
    p.write(bytes(...Array.from({ length: n }, (_, i) => withBody('PUB many\n', `m${i}`))));
    for (let i = 0; i < n; i++) await p.expectResponse('OK');
    assert.equal(p.pending(), 0);
    const bodies: string[] = [];
    for (let i = 0; i < n; i++) {
      const m = await sub.readMessage();
      bodies.push(m.body);
      sub.write(`FIN ${m.id}\n`);
    }
    assert.deepEqual(bodies, Array.from({ length: n }, (_, i) => `m${i}`));

    // mixed commands in one write, each answered in order
    const mp = mpubBody(['x', 'y']);
    p.write(bytes('NOP\n', withBody('PUB many\n', 'a'), 'NOP\n', bytes('MPUB many\n', int32(mp.length), mp), withBody('DPUB many 0\n', 'b'), 'BOGUS\n', withBody('PUB many\n', 'never')));
    for (let i = 0; i < 3; i++) await p.expectResponse('OK');
    await p.expectError('E_INVALID invalid command BOGUS');
    await p.expectClose();
    const rest: string[] = [];
    for (let i = 0; i < 4; i++) rest.push((await sub.readMessage()).body);
    assert.deepEqual(rest, ['a', 'x', 'y', 'b']);
    await sub.expectSilence(100);
  });
});

test('a ~4 MiB MPUB sent in small pieces', { timeout: 30_000 }, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const count = 4000;
    const msgs = Array.from({ length: count }, (_, i) => `${String(i).padStart(6, '0')}${'.'.repeat(1018)}`);
    const body = mpubBody(msgs);
    assert.ok(body.length > 4_000_000 && body.length <= 5_242_880, `body of ${body.length} bytes`);
    const p = await connect();
    // pieces of an odd size, so that size fields and bodies are cut everywhere
    await p.writeInPieces(bytes('MPUB big\n', int32(body.length), body), 8191, 0);
    await p.expectResponse('OK', 10_000);
    const sub = await connect();
    await sub.sub('big', 'ch', 2500);
    for (let i = 0; i < count; i++) {
      const m = await sub.readMessage(5000);
      if (m.body !== msgs[i]) assert.fail(`message ${i}: ${m.body.slice(0, 10)}... (${m.body.length} bytes)`);
      sub.write(`FIN ${m.id}\n`);
    }
    await sub.expectSilence(100);
    // the connection goes on after it
    await p.pub('big', 'after');
    assert.equal((await sub.readMessage()).body, 'after');
  });
});

test('size fields split across writes', { timeout: 10_000 }, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const sub = await connect();
    await sub.sub('sizes', 'ch', 100);
    const p = await connect();
    const mp = mpubBody(['m1', 'm2']);
    const parts: Uint8Array[] = [
      bytes('PUB sizes\n', int32(5).subarray(0, 2)),
      bytes(int32(5).subarray(2), 'hel'),
      bytes('lo', 'MPUB sizes\n', int32(mp.length).subarray(0, 1)),
      bytes(int32(mp.length).subarray(1), mp.subarray(0, 6)),
      bytes(mp.subarray(6, 9)),
      bytes(mp.subarray(9), 'DPUB sizes 0\n', int32(4).subarray(0, 3)),
      bytes(int32(4).subarray(3), 'dpub'),
    ];
    for (const part of parts) {
      await p.send(part);
      await sleep(5);
    }
    for (let i = 0; i < 3; i++) await p.expectResponse('OK');
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push((await sub.readMessage()).body);
    assert.deepEqual(got, ['hello', 'm1', 'm2', 'dpub']);
  });
});

test('a body cut short by the client\'s EOF: the "failed to read" error, then close', { timeout: 15_000 }, async () => {
  const cases: [Uint8Array, string][] = [
    [bytes('PUB t\n', [0, 0]), 'E_BAD_MESSAGE PUB failed to read message body size'],
    [bytes('PUB t\n', int32(10), 'abc'), 'E_BAD_MESSAGE PUB failed to read message body'],
    [bytes('DPUB t 10\n', [0]), 'E_BAD_MESSAGE DPUB failed to read message body size'],
    [bytes('DPUB t 10\n', int32(4), 'a'), 'E_BAD_MESSAGE DPUB failed to read message body'],
    [bytes('MPUB t\n', [0, 0, 0]), 'E_BAD_BODY MPUB failed to read body size'],
    [bytes('MPUB t\n', int32(100), [0, 0]), 'E_BAD_BODY MPUB failed to read message count'],
    [bytes('MPUB t\n', int32(100), int32(2), int32(1), 'a', [0]), 'E_BAD_MESSAGE MPUB failed to read message(1) body size'],
    [bytes('MPUB t\n', int32(100), int32(2), int32(10), 'abc'), 'E_BAD_MESSAGE MPUB failed to read message body'],
    [bytes('IDENTIFY\n', [0, 0]), 'E_BAD_BODY IDENTIFY failed to read body size'],
    [bytes('IDENTIFY\n', int32(10), '{"a"'), 'E_BAD_BODY IDENTIFY failed to read body'],
    [bytes('AUTH\n', [0]), 'E_BAD_BODY AUTH failed to read body size'],
    [bytes('AUTH\n', int32(10), 'sec'), 'E_BAD_BODY AUTH failed to read body'],
  ];
  await withServingNsqd({}, async (_d, connect) => {
    const sub = await connect();
    await sub.sub('t', 'ch', 100);
    for (const [data, text] of cases) {
      const c = await connect();
      c.write(data);
      await sleep(10); // the bytes arrive as a partial frame first
      c.end();
      await c.expectError(text).catch((err: Error) => assert.fail(`${text}: ${err.message}`));
      await c.expectClose();
      assert.equal(c.pending(), 0);
    }
    // none of them published anything
    await sub.expectSilence(100);
    // a partial command line at EOF is dropped without a reply
    const c = await connect();
    c.write(withBody('PUB t\n', 'kept'));
    c.write('PUB t');
    await sleep(10);
    c.end();
    await c.expectResponse('OK');
    await c.expectClose();
    assert.equal(c.pending(), 0);
    assert.equal((await sub.readMessage()).body, 'kept');
  });
});

test('a connection dropped mid-frame disturbs no one', { timeout: 10_000 }, async () => {
  await withServingNsqd({}, async (_d, connect) => {
    const sub = await connect();
    await sub.sub('drop', 'ch', 100);
    const body = mpubBody(Array.from({ length: 1000 }, () => 'x'.repeat(1000)));
    for (const data of [
      bytes('MPUB drop\n', int32(body.length), body.subarray(0, 500_000)),
      bytes('PUB drop\n', int32(1_000_000), new Uint8Array(300_000)),
      bytes('IDENTIFY\n', int32(4000), '{"client_id":'),
      bytes('PUB drop'),
    ]) {
      const c = await connect();
      await c.send(data);
      await sleep(10);
      c.destroy();
    }
    const p = await connect();
    await p.pub('drop', 'fine');
    assert.equal((await sub.readMessage()).body, 'fine');
    await sub.expectSilence(100);
  });
});
