// The nsqd building blocks without sockets: the message heap, the ring queue,
// message IDs, the message codec, names, Go durations, flags and options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../core/config/duration.ts';
import { parseFlags, type FlagSpec } from '../../core/config/flags.ts';
import { ConfigError } from '../../core/errors.ts';
import { GuidFactory } from '../../core/nsqd/guid.ts';
import { MessagePQueue } from '../../core/nsqd/in_flight_pqueue.ts';
import { decodeMessage, encodeMessage, newMessage, type Message, MSG_HEADER_LENGTH, nowNs } from '../../core/nsqd/message.ts';
import { buildOptions, NSQD_FLAGS } from '../../core/nsqd/options.ts';
import { RingQueue } from '../../core/nsqd/ring_queue.ts';
import { isEphemeral, isValidChannelName, isValidTopicName } from '../../core/protocol/names.ts';

const ID_RE = /^[0-9a-f]{16}$/;

function msg(pri: number, n = 0): Message {
  const m = newMessage(n.toString(16).padStart(16, '0'), new Uint8Array(0), 0);
  m.pri = pri;
  return m;
}

/** White-box check: every slot knows its index and no child sorts before its parent. */
function assertHeap(q: MessagePQueue): void {
  const items = (q as unknown as { items: Message[] }).items;
  assert.equal(items.length, q.length);
  for (let i = 0; i < items.length; i++) {
    assert.equal(items[i]!.index, i, `item at ${i} records index ${items[i]!.index}`);
    if (i > 0) assert.ok(items[(i - 1) >> 1]!.pri <= items[i]!.pri, `heap order broken at ${i}`);
  }
}

function drainAll(q: MessagePQueue): Message[] {
  const out: Message[] = [];
  for (let m = q.peekAndShift(Infinity); m !== undefined; m = q.peekAndShift(Infinity)) {
    assert.equal(m.index, -1);
    out.push(m);
  }
  return out;
}

function assertSorted(ms: Message[]): void {
  for (let i = 1; i < ms.length; i++) assert.ok(ms[i - 1]!.pri <= ms[i]!.pri, `out of order at ${i}: ${ms[i - 1]!.pri} > ${ms[i]!.pri}`);
}

// ---- MessagePQueue

test('MessagePQueue: peekAndShift returns messages by pri, only up to max', () => {
  const q = new MessagePQueue();
  const all: Message[] = [];
  for (let i = 0; i < 1000; i++) {
    const m = msg(Math.floor(Math.random() * 500), i); // with duplicates
    all.push(m);
    q.push(m);
  }
  assertHeap(q);
  assert.equal(q.length, 1000);
  const min = Math.min(...all.map((m) => m.pri));
  assert.equal(q.peekAndShift(min - 1), undefined, 'nothing at or below max');
  assert.equal(q.length, 1000);
  const upTo100: Message[] = [];
  for (let m = q.peekAndShift(100); m !== undefined; m = q.peekAndShift(100)) upTo100.push(m);
  assert.equal(upTo100.length, all.filter((m) => m.pri <= 100).length);
  assertSorted(upTo100);
  const rest = drainAll(q);
  assert.equal(rest.length + upTo100.length, 1000);
  assertSorted(rest);
  assert.ok(rest[0]!.pri > 100);
  assert.equal(q.length, 0);
  assert.equal(q.peekAndShift(Infinity), undefined);
});

test('MessagePQueue: removing from the middle keeps heap order', () => {
  const q = new MessagePQueue();
  const all: Message[] = [];
  for (let i = 0; i < 500; i++) {
    const m = msg(Math.random() * 1e6, i);
    all.push(m);
    q.push(m);
  }
  const removed = new Set<Message>();
  for (let i = 0; i < 200; i++) {
    const candidates = all.filter((m) => !removed.has(m) && m.index > 0 && m.index < q.length - 1);
    const m = candidates[Math.floor(Math.random() * candidates.length)]!;
    q.remove(m);
    assert.equal(m.index, -1);
    removed.add(m);
    assertHeap(q);
  }
  // and the last one and the top
  const items = (q as unknown as { items: Message[] }).items;
  const last = items[items.length - 1]!;
  q.remove(last);
  removed.add(last);
  const top = items[0]!;
  q.remove(top);
  removed.add(top);
  assertHeap(q);
  const rest = drainAll(q);
  assertSorted(rest);
  assert.equal(rest.length, 500 - removed.size);
  for (const m of rest) assert.ok(!removed.has(m));
});

test('MessagePQueue: update moves a message up or down', () => {
  const q = new MessagePQueue();
  const all: Message[] = [];
  for (let i = 0; i < 300; i++) {
    const m = msg(Math.random() * 1000, i);
    all.push(m);
    q.push(m);
  }
  for (let i = 0; i < 300; i++) {
    const m = all[Math.floor(Math.random() * all.length)]!;
    q.update(m, i % 2 === 0 ? m.pri + Math.random() * 2000 : m.pri - Math.random() * 2000);
    assertHeap(q);
  }
  const victim = all[7]!;
  q.update(victim, -1e9);
  assert.equal(q.peekAndShift(Infinity), victim);
  const rest = drainAll(q);
  assert.equal(rest.length, 299);
  assertSorted(rest);
});

test('MessagePQueue: drain empties and clears indexes', () => {
  const q = new MessagePQueue();
  for (let i = 0; i < 20; i++) q.push(msg(i, i));
  const out = q.drain();
  assert.equal(out.length, 20);
  assert.equal(q.length, 0);
  for (const m of out) assert.equal(m.index, -1);
});

// ---- RingQueue

test('RingQueue: keeps FIFO order while growing across the wrap-around', () => {
  const q = new RingQueue<number>();
  for (let i = 0; i < 10; i++) q.push(i);
  for (let i = 0; i < 8; i++) assert.equal(q.shift(), i);
  // head is at 8 of 16: these wrap around, then force two growths
  for (let i = 10; i < 60; i++) q.push(i);
  assert.equal(q.length, 52);
  for (let i = 8; i < 30; i++) assert.equal(q.shift(), i);
  for (let i = 60; i < 100; i++) q.push(i);
  const rest = q.drain();
  assert.deepEqual(rest, Array.from({ length: 70 }, (_, i) => i + 30));
  assert.equal(q.length, 0);
  assert.equal(q.shift(), undefined);
});

test('RingQueue: random pushes and shifts match an array', () => {
  const q = new RingQueue<number>(3);
  const model: number[] = [];
  let next = 0;
  for (let i = 0; i < 20000; i++) {
    if (Math.random() < 0.55) {
      q.push(next);
      model.push(next++);
    } else {
      assert.equal(q.shift(), model.shift());
    }
    assert.equal(q.length, model.length);
  }
  assert.deepEqual(q.drain(), model);
});

// ---- GuidFactory

test('GuidFactory: 16 lowercase hex characters, strictly increasing across a 65,536 boundary', () => {
  const startMs = Date.UTC(2024, 0, 1) + 15; // (startMs - 2024) * 4096 = 61440: a 65,536 boundary after 4096 IDs
  const g = new GuidFactory(5, startMs);
  let prev = '';
  for (let i = 0; i < 3 * 65536; i++) {
    const id = g.next();
    if (i < 4 || i % 1000 === 0) assert.match(id, ID_RE);
    assert.ok(id > prev, `ID ${i} ${id} is not after ${prev}`);
    prev = id;
  }
  assert.match(prev, ID_RE);
});

test('GuidFactory: unique over 200,000 IDs, consecutive as numbers', () => {
  const g = new GuidFactory(1);
  const seen = new Set<string>();
  let prev = -1n;
  for (let i = 0; i < 200_000; i++) {
    const id = g.next();
    seen.add(id);
    const n = BigInt(`0x${id}`);
    if (prev >= 0n) assert.equal(n, prev + 1n);
    prev = n;
  }
  assert.equal(seen.size, 200_000);
});

test('GuidFactory: the node id is in the top bits', () => {
  for (const node of [0, 1, 513, 1023]) {
    const id = BigInt(`0x${new GuidFactory(node).next()}`);
    assert.equal(id >> 53n, BigInt(node), `node ${node}`);
    assert.equal(id >> 63n, 0n, 'the sign bit stays clear');
  }
  assert.throws(() => new GuidFactory(1024), RangeError);
  assert.throws(() => new GuidFactory(-1), RangeError);
  const a = new GuidFactory(3, 1_700_000_000_000).next();
  const b = new GuidFactory(4, 1_700_000_000_000).next();
  assert.notEqual(a, b, 'two nodes at the same instant differ');
});

test('GuidFactory: two factories started 1 ms apart do not collide', () => {
  const t = Date.now();
  const a = new GuidFactory(7, t);
  const b = new GuidFactory(7, t + 1);
  // 4,096 IDs per millisecond is the generator's design rate (guid.ts).
  const fromA = new Set(Array.from({ length: 4096 }, () => a.next()));
  const fromB = Array.from({ length: 4096 }, () => b.next());
  for (const id of fromB) assert.ok(!fromA.has(id), `collision on ${id}`);
  assert.ok(fromB[0]! > [...fromA].pop()!, 'the later start continues after the earlier one');
});

// ---- message codec

test('a record written again keeps a Go timestamp to the nanosecond (past 2^53)', () => {
  const rec = new Uint8Array(MSG_HEADER_LENGTH + 3);
  const view = new DataView(rec.buffer);
  view.setBigUint64(0, 1795523123701656371n); // time.Now().UnixNano() as Go nsqd writes it
  view.setUint16(8, 2);
  rec.set(new TextEncoder().encode('0a1b2c3d4e5f6789abc'), 10);
  const again = encodeMessage(decodeMessage(rec).copy());
  assert.equal(new DataView(again.buffer).getBigUint64(0), 1795523123701656371n);
  assert.deepEqual(again, rec);
});

test('encodeMessage/decodeMessage round trip: timestamp, attempts, id, body', () => {
  const g = new GuidFactory(9);
  const body = new Uint8Array(1000);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
  for (const attempts of [0, 1, 7, 65535]) {
    const m = newMessage(g.next(), body, nowNs(), attempts);
    const rec = encodeMessage(m);
    assert.equal(rec.length, MSG_HEADER_LENGTH + body.length);
    // the 8-byte big-endian nanosecond timestamp, as Go writes it
    const onWire = new DataView(rec.buffer, rec.byteOffset).getBigUint64(0);
    const diff = onWire - BigInt(m.timestamp);
    assert.ok(diff <= 1000n && diff >= -1000n, `timestamp on the wire off by ${diff} ns`);
    const back = decodeMessage(rec);
    assert.ok(Math.abs(back.timestamp - m.timestamp) <= 1000, `timestamp off by ${back.timestamp - m.timestamp} ns`);
    assert.equal(back.attempts, attempts);
    assert.equal(back.id, m.id);
    assert.match(back.id, ID_RE);
    assert.deepEqual(back.body, body);
  }
  const ts = Date.now() * 1e6;
  assert.ok(Math.abs(Number(new DataView(encodeMessage(newMessage(g.next(), body, ts)).buffer).getBigUint64(0) - BigInt(ts))) <= 1000);
  assert.throws(() => decodeMessage(new Uint8Array(MSG_HEADER_LENGTH - 1)), RangeError);
  const empty = decodeMessage(encodeMessage(newMessage(g.next(), new Uint8Array(0), ts)));
  assert.equal(empty.body.length, 0);
});

test('nowNs is nanoseconds since the epoch', () => {
  const ms = Date.now();
  const ns = nowNs();
  assert.ok(Math.abs(ns / 1e6 - ms) < 1000, `${ns} ns vs ${ms} ms`);
});

// ---- names

test('topic and channel names follow PROTOCOL.md 1.3', () => {
  const valid = ['clicks', 'a.b-c_d', 'tail123456#ephemeral', 'A', '.', '-', '_', 'x'.repeat(64), `${'y'.repeat(54)}#ephemeral`];
  const invalid = ['', 'a b', 'a:b', 'a#b', '#ephemeral', 'x'.repeat(65), `${'y'.repeat(55)}#ephemeral`, 'a#ephemeral#ephemeral', 'a#Ephemeral', 'é', 'a/b', 'a\n', 'a*'];
  for (const name of valid) {
    assert.ok(isValidTopicName(name), `topic ${JSON.stringify(name)} is valid`);
    assert.ok(isValidChannelName(name), `channel ${JSON.stringify(name)} is valid`);
  }
  for (const name of invalid) {
    assert.ok(!isValidTopicName(name), `topic ${JSON.stringify(name)} is invalid`);
    assert.ok(!isValidChannelName(name), `channel ${JSON.stringify(name)} is invalid`);
  }
  assert.ok(isEphemeral('a#ephemeral'));
  assert.ok(!isEphemeral('a'));
});

// ---- durations

test('parseDuration takes Go durations, in milliseconds', () => {
  const cases: [string, number][] = [
    ['250ms', 250], ['1m30s', 90000], ['1h0m0s', 3600000], ['1.5s', 1500], ['0', 0], ['0s', 0],
    ['60s', 60000], ['15m', 900000], ['1h', 3600000], ['2h45m', 9900000], ['1.1s', 1100], ['0.3s', 300],
    ['100us', 0.1], ['100µs', 0.1], ['1000ns', 0.001], ['1.s', 1000], ['.5s', 500], ['+5s', 5000], ['-1.5s', -1500],
    ['1h1m1s1ms', 3661001], ['1.005s', 1005], ['0.07s', 70], ['0.57s', 570], ['1.1m', 66000], ['2562047h', 9223369200000],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  for (const bad of ['', '10', '1x', 'abc', 's', '1.5', '1s2', '--1s', '1 s', '.s', '1h 30m', '-', '2562048h']) {
    assert.equal(parseDuration(bad), undefined, JSON.stringify(bad));
  }
});

test('formatDuration prints as Go does', () => {
  const cases: [number, string][] = [
    [250, '250ms'], [90000, '1m30s'], [3600000, '1h0m0s'], [1500, '1.5s'], [0, '0s'], [60000, '1m0s'], [1000, '1s'],
    [900000, '15m0s'], [25, '25ms'], [1.5, '1.5ms'], [0.001, '1µs'], [0.0005, '500ns'], [-1500, '-1.5s'], [3661001, '1h1m1.001s'],
    [90061500, '25h1m1.5s'],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms));
  for (const text of ['250ms', '1m30s', '1h0m0s', '1.5s', '1.1s', '2h45m0s']) assert.equal(formatDuration(parseDuration(text)!), text);
});

// ---- flags

const SPECS: FlagSpec[] = [
  { name: 'x', type: 'int', default: 0, help: '' },
  { name: 'flag', type: 'bool', default: false, help: '' },
  { name: 'on', type: 'bool', default: true, help: '' },
  { name: 'timeout', type: 'duration', default: 1000, help: '' },
  { name: 'addr', type: 'list', default: [], help: '' },
  { name: 'name', type: 'string', default: 'def', help: '' },
  { name: 'pct', type: 'floatList', default: [], help: '' },
];

test('parseFlags: -x=1, --x 1, booleans, durations', () => {
  assert.equal(parseFlags(SPECS, ['-x=1']).values.x, 1);
  assert.equal(parseFlags(SPECS, ['--x', '1']).values.x, 1);
  assert.equal(parseFlags(SPECS, ['-x', '-3']).values.x, -3);
  assert.equal(parseFlags(SPECS, ['--x=42']).values.x, 42);
  const defaults = parseFlags(SPECS, []);
  assert.deepEqual(defaults.values, { x: 0, flag: false, on: true, timeout: 1000, addr: [], name: 'def', pct: [] });
  assert.equal(defaults.explicit.size, 0);
  assert.equal(parseFlags(SPECS, ['--flag']).values.flag, true);
  assert.equal(parseFlags(SPECS, ['-flag']).values.flag, true);
  assert.equal(parseFlags(SPECS, ['--on=false']).values.on, false);
  assert.equal(parseFlags(SPECS, ['--flag=true']).values.flag, true);
  assert.equal(parseFlags(SPECS, ['--timeout=1m30s']).values.timeout, 90000);
  assert.equal(parseFlags(SPECS, ['--timeout', '250ms']).values.timeout, 250);
  assert.equal(parseFlags(SPECS, ['--name=a=b']).values.name, 'a=b');
  assert.equal(parseFlags(SPECS, ['--name=']).values.name, '');
  const p = parseFlags(SPECS, ['--x=2', '--flag', 'rest1', '--x=3']);
  assert.equal(p.values.x, 2);
  assert.deepEqual(p.rest, ['rest1', '--x=3'], 'flags end at the first argument');
  assert.deepEqual([...p.explicit].sort(), ['flag', 'x']);
  assert.deepEqual(parseFlags(SPECS, ['--', '--x=1']).rest, ['--x=1']);
  // a bare boolean does not take the next argument (Go: --flag false leaves "false" as an argument)
  const b = parseFlags(SPECS, ['--on', 'false']);
  assert.equal(b.values.on, true);
  assert.deepEqual(b.rest, ['false']);
});

test('parseFlags: a repeated list flag collects every value, replacing the default', () => {
  const specs: FlagSpec[] = [{ name: 'addr', type: 'list', default: ['default:1'], help: '' }, { name: 'pct', type: 'floatList', default: [], help: '' }];
  const p = parseFlags(specs, ['--addr=a:1', '-addr', 'b:2', '--addr=c:3', '--pct=0.5,0.99', '--pct', '1']);
  assert.deepEqual(p.values.addr, ['a:1', 'b:2', 'c:3']);
  assert.deepEqual(p.values.pct, [0.5, 0.99, 1]);
  assert.deepEqual(parseFlags(specs, []).values.addr, ['default:1']);
  assert.deepEqual(specs[0]!.default, ['default:1'], 'the default is not mutated');
});

test('parseFlags: errors name the flag', () => {
  const fails = (argv: string[], re: RegExp) =>
    assert.throws(() => parseFlags(SPECS, argv), (err: unknown) => {
      assert.ok(err instanceof ConfigError, `ConfigError for ${argv.join(' ')}`);
      assert.match(err.message, re);
      return true;
    });
  fails(['--nope=1'], /flag provided but not defined: -nope/);
  fails(['-nope'], /-nope/);
  fails(['--x'], /flag needs an argument: -x/);
  fails(['--timeout'], /flag needs an argument: -timeout/);
  fails(['--x=abc'], /"abc".*-x\b/);
  fails(['--x', '1.5'], /"1\.5".*-x\b/);
  fails(['--timeout=5x'], /"5x".*-timeout/);
  fails(['--timeout=10'], /"10".*-timeout/);
  fails(['--flag=maybe'], /"maybe".*-flag/);
  fails(['--pct=0.5,abc'], /-pct/);
});

// ---- options

function options(argv: string[], defaultNodeId = 0) {
  return buildOptions(parseFlags(NSQD_FLAGS, argv).values, defaultNodeId);
}

test('buildOptions: flags become options in milliseconds; the default node id applies when not given', () => {
  const o = options(['--msg-timeout=1m30s', '--mem-queue-size=5', '--max-channel-consumers=3'], 77);
  assert.equal(o.msgTimeout, 90000);
  assert.equal(o.memQueueSize, 5);
  assert.equal(o.maxChannelConsumers, 3);
  assert.equal(o.nodeId, 77);
  assert.equal(o.maxMsgTimeout, 900000);
  assert.equal(o.queueScanSelectionCount, 20);
  assert.equal(o.queueScanDirtyPercent, 0.25);
  assert.equal(options(['--node-id=12'], 77).nodeId, 12);
  assert.equal(options(['--node-id=0'], 77).nodeId, 0);
});

test('buildOptions: validation errors name the option and the value', () => {
  const fails = (argv: string[], flag: string, value: string) =>
    assert.throws(() => options(argv), (err: unknown) => {
      assert.ok(err instanceof ConfigError, `ConfigError for ${argv.join(' ')}`);
      assert.ok(err.message.includes(`--${flag}`), `${JSON.stringify(err.message)} names --${flag}`);
      assert.ok(err.message.includes(value), `${JSON.stringify(err.message)} shows ${value}`);
      return true;
    });
  fails(['--mem-queue-size=-1'], 'mem-queue-size', '-1');
  fails(['--node-id=1024'], 'node-id', '1024');
  fails(['--max-deflate-level=10'], 'max-deflate-level', '10');
  fails(['--max-deflate-level=0'], 'max-deflate-level', '0');
  fails(['--log-level=loud'], 'log-level', 'loud');
  fails(['--queue-scan-dirty-percent=1.5'], 'queue-scan-dirty-percent', '1.5');
  fails(['--queue-scan-selection-count=0'], 'queue-scan-selection-count', '0');
  fails(['--queue-scan-worker-pool-max=0'], 'queue-scan-worker-pool-max', '0');
  fails(['--max-rdy-count=0'], 'max-rdy-count', '0');
  fails(['--msg-timeout=0'], 'msg-timeout', '0');
  fails(['--max-output-buffer-size=10'], 'max-output-buffer-size', '10');
  fails(['--max-msg-size=6000000'], 'max-msg-size', '6000000');
  assert.throws(() => options(['--lookupd-tcp-address=127.0.0.1']), /--lookupd-tcp-address.*<addr>:<port>/);
  assert.deepEqual(options(['--lookupd-tcp-address=127.0.0.1:4160', '--lookupd-tcp-address=h:4162']).lookupdTcpAddress, ['127.0.0.1:4160', 'h:4162']);
  assert.throws(() => options(['--tls-cert=x.pem']), /--tls-cert/);
});
