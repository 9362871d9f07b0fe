// Publish throughput, as NSQ's bench/bench_writer: --concurrency connections
// each publish MPUBs of --batch-size messages of --size bytes for --runfor,
// and the figure is the messages whose MPUB got its OK, over the time from the
// first send to the last OK.
//
// Unlike NSQ's bench_writer (one MPUB in flight per connection, i.e.
// --window=1), each connection keeps up to --window commands outstanding:
// a new command is sent as soon as an OK comes back, and the commands that
// one received chunk releases go out in one writev (cork/uncork). --single
// publishes with PUB, one message per command. --messages=N publishes N
// messages (rounded up to whole batches) and stops, whatever --runfor says.
//
//   node --import tsx bench/bench_writer.ts --nsqd-tcp-address=127.0.0.1:4150 --size=100
//   ./node_modules/.bin/node bench/bench_writer.ts --single --window=16
import os from 'node:os';
import process from 'node:process';
import type * as net from 'node:net';
import {
  announceStart, connect, cpuShare, encodeMpub, encodePub, FRAME_ERROR, FRAME_RESPONSE, FrameParser, goDuration,
  isText, messageBody, NOP, now, parseFlags, report,
} from './lib.ts';

const TOOL = 'bench_writer';

const flags = parseFlags(TOOL, {
  'nsqd-tcp-address': { type: 'string', default: '127.0.0.1:4150', help: '<addr>:<port> to connect to nsqd' },
  topic: { type: 'string', default: 'sub_bench', help: 'topic to publish to' },
  size: { type: 'int', default: 200, help: 'size of messages (bytes)' },
  'batch-size': { type: 'int', default: 200, help: 'messages per MPUB' },
  runfor: { type: 'duration', default: 10000, help: 'duration of time to run' },
  concurrency: { type: 'int', default: os.availableParallelism(), help: 'connections (NSQ: GOMAXPROCS; here: CPU count)' },
  window: { type: 'int', default: 4, help: 'commands in flight per connection (NSQ bench_writer: 1)' },
  single: { type: 'bool', default: false, help: 'PUB one message per command instead of MPUB' },
  messages: { type: 'int', default: 0, help: 'publish this many messages then stop (0: run for --runfor)' },
  json: { type: 'bool', default: false, help: 'also print machine-readable start/result lines (for run.ts)' },
});

const address = flags['nsqd-tcp-address'] as string;
const topic = flags.topic as string;
const size = flags.size as number;
const single = flags.single as boolean;
const perCommand = single ? 1 : (flags['batch-size'] as number);
const runfor = flags.runfor as number;
const concurrency = flags.concurrency as number;
const window = flags.window as number;
const limit = flags.messages as number;
const json = flags.json as boolean;
if (size < 1 || perCommand < 1 || concurrency < 1 || window < 1) {
  process.stderr.write(`[${TOOL}] --size, --batch-size, --concurrency and --window must be >= 1\n`);
  process.exit(2);
}

const body = messageBody(size);
const command = single ? encodePub(topic, body) : encodeMpub(topic, body, perCommand);
/** Commands in all: unlimited when running for a duration. */
const commandLimit = limit > 0 ? Math.ceil(limit / perCommand) : Infinity;

let commandsSent = 0;
let msgsAcked = 0;
let deadline = Infinity;
let running = 0;
let start = 0;
let end = 0;
let cpuStart: NodeJS.CpuUsage;

function canSend(): boolean {
  return commandsSent < commandLimit && now() < deadline;
}

function worker(socket: net.Socket, done: () => void): void {
  let outstanding = 0;
  const parser = new FrameParser((type, buf, s, e) => {
    if (type === FRAME_RESPONSE) {
      if (isText(buf, s, e, 'OK')) {
        outstanding--;
        msgsAcked += perCommand;
        return;
      }
      if (isText(buf, s, e, '_heartbeat_')) return void socket.write(NOP);
    }
    process.stderr.write(`[${TOOL}] ${type === FRAME_ERROR ? 'error' : `unexpected frame type ${type}`}: ${buf.toString('latin1', s, e)}\n`);
    process.exit(1);
  });
  const fill = () => {
    while (outstanding < window && canSend()) {
      socket.write(command);
      outstanding++;
      commandsSent++;
    }
  };
  socket.on('data', (chunk: Buffer) => {
    parser.push(chunk);
    socket.cork();
    fill();
    socket.uncork();
    if (outstanding === 0) {
      socket.removeAllListeners('data');
      socket.destroy();
      done();
    }
  });
  socket.on('error', (err) => {
    process.stderr.write(`[${TOOL}] connection error: ${err.message}\n`);
    process.exit(1);
  });
  socket.on('close', () => {
    if (outstanding > 0) {
      process.stderr.write(`[${TOOL}] connection closed with ${outstanding} commands outstanding\n`);
      process.exit(1);
    }
  });
  socket.cork();
  fill();
  socket.uncork();
}

async function main(): Promise<void> {
  const sockets = await Promise.all(Array.from({ length: concurrency }, () => connect(address)));
  announceStart(json);
  cpuStart = process.cpuUsage();
  start = now();
  deadline = limit > 0 ? Infinity : start + runfor;
  running = sockets.length;
  for (const socket of sockets) {
    worker(socket, () => {
      if (--running === 0) finish();
    });
  }
}

function finish(): void {
  end = now();
  const ms = end - start;
  const secs = ms / 1000;
  const cpu = cpuShare(cpuStart, ms);
  const mbps = (msgsAcked * size) / secs / 1024 / 1024;
  const ops = msgsAcked / secs;
  const mode = single ? 'PUB' : `MPUB x${perCommand}`;
  report(json, [
    `[${TOOL}] duration: ${goDuration(ms)} - ${mbps.toFixed(3)}mb/s - ${ops.toFixed(3)}ops/s - ${((ms * 1000) / msgsAcked).toFixed(3)}us/op`,
    `[${TOOL}] ${msgsAcked} msgs of ${size} bytes (${mode}, ${concurrency} conns, window ${window}); client CPU ${(cpu * 100).toFixed(0)}% of a core`,
  ], { bench: 'writer', msgs: msgsAcked, seconds: secs, msgsPerSec: ops, mbPerSec: mbps, clientCpu: cpu });
}

main().catch((err: unknown) => {
  process.stderr.write(`[${TOOL}] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
