// One-message round trips.
//
// --mode=pub (default): --connections connections each PUB one message and
// wait for its OK before the next, for --runfor; prints round trips/s over
// all connections and the mean PUB→OK time.
//
// --mode=latency: one consumer (SUB --topic/--channel, RDY 1) and one
// publisher. The publisher PUBs one message; when the consumer has received
// it (and sent its FIN) and the PUB's OK is back, the next one goes. Each
// message's publish-to-receive time (from just before the PUB is written to
// the moment its frame is parsed, both on this process's clock) is recorded;
// prints p50/p90/p99/max in ms and the round trips/s. The first --warmup
// messages are not recorded. Each body starts with the message's sequence
// number, so messages left on the channel by an earlier run are FINed and
// skipped rather than mistaken for this run's.
//
//   node --import tsx bench/bench_roundtrip.ts --connections=2 --runfor=3s
//   node --import tsx bench/bench_roundtrip.ts --mode=latency --runfor=3s
import process from 'node:process';
import type * as net from 'node:net';
import {
  announceStart, connect, cpuShare, encodeIdentify, encodePub, expectOks, FinWriter, FRAME_MESSAGE, FRAME_RESPONSE,
  FrameParser, goDuration, isText, messageBody, MSG_BODY_OFFSET, NOP, now, parseFlags, percentile, report,
} from './lib.ts';

const TOOL = 'bench_roundtrip';

const flags = parseFlags(TOOL, {
  'nsqd-tcp-address': { type: 'string', default: '127.0.0.1:4150', help: '<addr>:<port> to connect to nsqd' },
  mode: { type: 'string', default: 'pub', help: 'pub: PUB→OK round trips; latency: publish-to-receive at RDY 1' },
  topic: { type: 'string', default: '', help: 'topic to publish to (default: rt_bench, or lat_bench in latency mode)' },
  channel: { type: 'string', default: 'ch', help: 'channel the latency consumer subscribes to' },
  size: { type: 'int', default: 200, help: 'size of messages (bytes)' },
  connections: { type: 'int', default: 2, help: 'publishing connections (pub mode)' },
  runfor: { type: 'duration', default: 10000, help: 'duration of time to run' },
  warmup: { type: 'int', default: 200, help: 'messages not recorded at the start (latency mode)' },
  json: { type: 'bool', default: false, help: 'also print machine-readable start/result lines (for run.ts)' },
});

const address = flags['nsqd-tcp-address'] as string;
const mode = flags.mode as string;
const topic = (flags.topic as string) || (flags.mode === 'latency' ? 'lat_bench' : 'rt_bench');
const channel = flags.channel as string;
const size = flags.size as number;
const connections = flags.connections as number;
const runfor = flags.runfor as number;
const warmup = flags.warmup as number;
const json = flags.json as boolean;

const pub = encodePub(topic, messageBody(size));

function fail(message: string): never {
  process.stderr.write(`[${TOOL}] ${message}\n`);
  process.exit(1);
}

/** Checks a non-message frame: answers heartbeats, dies on errors; true when it is an OK. */
function response(socket: net.Socket, type: number, buf: Buffer, s: number, e: number): boolean {
  if (type === FRAME_RESPONSE) {
    if (isText(buf, s, e, 'OK')) return true;
    if (isText(buf, s, e, '_heartbeat_')) {
      socket.write(NOP);
      return false;
    }
  }
  return fail(`${type === 1 ? 'error' : `unexpected frame type ${type}`}: ${buf.toString('latin1', s, e)}`);
}

async function pubMode(): Promise<void> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => connect(address)));
  let trips = 0;
  let running = sockets.length;
  announceStart(json);
  const cpuStart = process.cpuUsage();
  const start = now();
  const deadline = start + runfor;
  const finish = () => {
    const ms = now() - start;
    const cpu = cpuShare(cpuStart, ms);
    const rate = trips / (ms / 1000);
    report(json, [
      `[${TOOL}] duration: ${goDuration(ms)} - ${rate.toFixed(3)} round trips/s - ${((ms * 1000 * connections) / trips).toFixed(3)}us/round trip per connection`,
      `[${TOOL}] ${trips} PUB→OK round trips of ${size}-byte messages over ${connections} connections; client CPU ${(cpu * 100).toFixed(0)}% of a core`,
    ], { bench: 'roundtrip', trips, seconds: ms / 1000, tripsPerSec: rate, clientCpu: cpu });
  };
  for (const socket of sockets) {
    const parser = new FrameParser((type, buf, s, e) => {
      if (!response(socket, type, buf, s, e)) return;
      trips++;
      if (now() < deadline) socket.write(pub);
      else {
        socket.destroy();
        if (--running === 0) finish();
      }
    });
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
    socket.on('error', (err) => fail(`connection error: ${err.message}`));
    socket.write(pub);
  }
}

async function latencyMode(): Promise<void> {
  const consumer = await connect(address);
  await expectOks(consumer, [
    encodeIdentify({ client_id: 'latency', hostname: 'latency', user_agent: 'bench_roundtrip/nsq-ts' }),
    Buffer.from(`SUB ${topic} ${channel}\n`),
  ], 2, 'IDENTIFY/SUB');
  const publisher = await connect(address);
  consumer.write('RDY 1\n');

  const samples: number[] = [];
  let sent = 0;
  let stale = 0;
  let sentAt = 0;
  let received = true;
  let acked = true;
  let start = 0;
  let deadline = Infinity;
  let cpuStart = process.cpuUsage();
  const fins = new FinWriter();

  const next = () => {
    if (!received || !acked) return;
    if (sent === warmup) {
      announceStart(json);
      cpuStart = process.cpuUsage();
      start = now();
      deadline = start + runfor;
    }
    const t = now();
    if (t >= deadline) return finish();
    received = false;
    acked = false;
    sent++;
    const cmd = Buffer.from(pub);
    if (size >= 4) cmd.writeUInt32BE(sent, pub.length - size);
    sentAt = now();
    publisher.write(cmd);
  };
  const finish = () => {
    const ms = now() - start;
    const cpu = cpuShare(cpuStart, ms);
    consumer.destroy();
    publisher.destroy();
    const sorted = Float64Array.from(samples).sort();
    const p = (q: number) => percentile(sorted, q).toFixed(3);
    const rate = sorted.length / (ms / 1000);
    report(json, [
      `[${TOOL}] duration: ${goDuration(ms)} - ${sorted.length} messages - ${rate.toFixed(3)} round trips/s`,
      `[${TOOL}] publish-to-receive at RDY 1: p50 ${p(50)}ms p90 ${p(90)}ms p99 ${p(99)}ms max ${p(100)}ms; client CPU ${(cpu * 100).toFixed(0)}% of a core`,
      ...(stale > 0 ? [`[${TOOL}] note: ${stale} messages from an earlier run were FINed and skipped`] : []),
    ], {
      bench: 'latency', msgs: sorted.length, seconds: ms / 1000, tripsPerSec: rate, clientCpu: cpu,
      p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: percentile(sorted, 100),
    });
  };

  const consumerParser = new FrameParser((type, buf, s, e) => {
    if (type === FRAME_MESSAGE) {
      const latency = now() - sentAt;
      fins.add(buf, s);
      if (received || (size >= 4 && buf.readUInt32BE(s + MSG_BODY_OFFSET) !== sent)) {
        stale++;
        return;
      }
      if (sent > warmup) samples.push(latency);
      received = true;
      return;
    }
    response(consumer, type, buf, s, e);
  });
  consumer.on('data', (chunk: Buffer) => {
    consumerParser.push(chunk);
    fins.flush(consumer);
    next();
  });
  const publisherParser = new FrameParser((type, buf, s, e) => {
    if (response(publisher, type, buf, s, e)) acked = true;
  });
  publisher.on('data', (chunk: Buffer) => {
    publisherParser.push(chunk);
    next();
  });
  consumer.on('error', (err) => fail(`consumer connection error: ${err.message}`));
  publisher.on('error', (err) => fail(`publisher connection error: ${err.message}`));
  next();
}

(mode === 'latency' ? latencyMode() : mode === 'pub' ? pubMode() : fail(`unknown --mode ${mode}`)).catch((err: unknown) => {
  fail(err instanceof Error ? err.message : String(err));
});
