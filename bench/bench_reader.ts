// Consume throughput, as NSQ's bench/bench_reader: --concurrency connections
// IDENTIFY, SUB to --topic/--channel, send RDY --rdy and FIN every message,
// for --runfor (or until --messages have arrived, when given). The figure is
// the messages received over the time from the RDYs to the end.
//
// The FINs for all the messages of one received chunk go out in one write
// (NSQ's bench_reader buffers them in a bufio.Writer). The messages must be
// there already: publish them first (bench_writer, or run.ts does it).
//
//   node --import tsx bench/bench_reader.ts --nsqd-tcp-address=127.0.0.1:4150 --size=100 --runfor=5s
import os from 'node:os';
import process from 'node:process';
import type * as net from 'node:net';
import {
  announceStart, connect, cpuShare, encodeIdentify, expectOks, FinWriter, FRAME_MESSAGE, FRAME_RESPONSE, FrameParser,
  goDuration, isText, MSG_BODY_OFFSET, NOP, now, parseFlags, report,
} from './lib.ts';

const TOOL = 'bench_reader';

const flags = parseFlags(TOOL, {
  'nsqd-tcp-address': { type: 'string', default: '127.0.0.1:4150', help: '<addr>:<port> to connect to nsqd' },
  topic: { type: 'string', default: 'sub_bench', help: 'topic to receive messages on' },
  channel: { type: 'string', default: 'ch', help: 'channel to receive messages on' },
  size: { type: 'int', default: 200, help: 'expected size of messages (a mismatch is reported)' },
  rdy: { type: 'int', default: 2500, help: 'RDY count per connection' },
  runfor: { type: 'duration', default: 10000, help: 'duration of time to run' },
  concurrency: { type: 'int', default: os.availableParallelism(), help: 'connections (NSQ: GOMAXPROCS; here: CPU count)' },
  messages: { type: 'int', default: 0, help: 'stop once this many messages arrived (0: run for --runfor)' },
  json: { type: 'bool', default: false, help: 'also print machine-readable start/result lines (for run.ts)' },
});

const address = flags['nsqd-tcp-address'] as string;
const topic = flags.topic as string;
const channel = flags.channel as string;
const size = flags.size as number;
const rdy = flags.rdy as number;
const runfor = flags.runfor as number;
const concurrency = flags.concurrency as number;
const limit = flags.messages as number;
const json = flags.json as boolean;

let msgs = 0;
let bodyBytes = 0;
let start = 0;
let stopped = false;
let cpuStart: NodeJS.CpuUsage;
let sockets: net.Socket[] = [];
let timer: ReturnType<typeof setTimeout> | undefined;

function consume(socket: net.Socket): void {
  const fins = new FinWriter();
  const parser = new FrameParser((type, buf, s, e) => {
    if (type === FRAME_MESSAGE) {
      msgs++;
      bodyBytes += e - s - MSG_BODY_OFFSET;
      fins.add(buf, s);
      return;
    }
    if (type === FRAME_RESPONSE) {
      if (isText(buf, s, e, '_heartbeat_')) socket.write(NOP);
      return;
    }
    process.stderr.write(`[${TOOL}] error: ${buf.toString('latin1', s, e)}\n`);
    process.exit(1);
  });
  socket.on('data', (chunk: Buffer) => {
    if (stopped) return;
    parser.push(chunk);
    if (limit > 0 && msgs >= limit) return stop();
    fins.flush(socket);
  });
  socket.on('close', () => {
    if (!stopped) {
      process.stderr.write(`[${TOOL}] connection closed by nsqd\n`);
      process.exit(1);
    }
  });
  socket.on('error', () => {});
  socket.write(`RDY ${rdy}\n`);
}

function stop(): void {
  if (stopped) return;
  stopped = true;
  const ms = now() - start;
  if (timer) clearTimeout(timer);
  const cpu = cpuShare(cpuStart, ms);
  for (const s of sockets) s.destroy();
  const secs = ms / 1000;
  const ops = msgs / secs;
  const mbps = bodyBytes / secs / 1024 / 1024;
  const avg = msgs > 0 ? bodyBytes / msgs : 0;
  const lines = [
    `[${TOOL}] duration: ${goDuration(ms)} - ${mbps.toFixed(3)}mb/s - ${ops.toFixed(3)}ops/s - ${((ms * 1000) / msgs).toFixed(3)}us/op`,
    `[${TOOL}] ${msgs} msgs (${concurrency} conns, RDY ${rdy}); client CPU ${(cpu * 100).toFixed(0)}% of a core`,
  ];
  if (msgs > 0 && Math.abs(avg - size) > 0.5) lines.push(`[${TOOL}] note: average body ${avg.toFixed(1)} bytes, --size says ${size}`);
  if (msgs === 0) lines.push(`[${TOOL}] note: no messages: publish to ${topic} first`);
  report(json, lines, { bench: 'reader', msgs, seconds: secs, msgsPerSec: ops, mbPerSec: mbps, clientCpu: cpu });
}

async function main(): Promise<void> {
  const identify = encodeIdentify({ client_id: 'reader', hostname: 'reader', user_agent: 'bench_reader/nsq-ts' });
  const sub = Buffer.from(`SUB ${topic} ${channel}\n`);
  sockets = await Promise.all(Array.from({ length: concurrency }, async () => {
    const socket = await connect(address);
    await expectOks(socket, [identify, sub], 2, 'IDENTIFY/SUB');
    return socket;
  }));
  announceStart(json);
  cpuStart = process.cpuUsage();
  start = now();
  timer = setTimeout(stop, runfor);
  for (const socket of sockets) consume(socket);
}

main().catch((err: unknown) => {
  process.stderr.write(`[${TOOL}] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
