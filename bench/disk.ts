// Disk-queue benchmarks that bench/run.ts does not cover. Each run starts a
// fresh nsqd child process (like run.ts) in a new temporary --data-path.
//
// --mode=ack (default): publishers that each send one command (PUB, or MPUB
//   of --batch-size with --batch-size > 1) and wait for its OK before the
//   next, for --runfor. Reports msgs/s and the p50/p99/max acknowledgement
//   latency (command written to OK parsed). Meant for --durable (the default
//   here), where an OK waits for the group commit's fsync.
//   --publishers takes a comma list: one run per value.
//
// --mode=rss: creates sub_bench/ch (so the backlog goes to the channel, as
//   in run.ts), asks for /stats once (RSS is reported before and after;
//   --stats=false skips it), publishes --messages 100-byte messages with
//   bench_writer (MPUB 200, 2 connections, window 4), waits a second, and reports the
//   server's VmHWM (peak RSS) and VmRSS from /proc/<pid>/status, with the
//   RSS it had idle before publishing, and the peak of its anonymous memory
//   (RssAnon, sampled every 10 ms: RSS less the executable's pages).
//
//   ./node_modules/.bin/node bench/disk.ts --mode=ack --publishers=1,50
//   ./node_modules/.bin/node bench/disk.ts --mode=rss --runtime=bun
import { spawn } from 'node:child_process';
import type * as net from 'node:net';
import { join } from 'node:path';
import process from 'node:process';
import { memoryMiB, root, runtimeCommand, type RunningDaemon, startDaemon } from './daemon.ts';
import { connect, die, encodeMpub, encodePub, FRAME_RESPONSE, FrameParser, isText, messageBody, NOP, now, parseFlags, percentile } from './lib.ts';

const TOOL = 'disk';
const fail: (message: string) => never = (message) => die(TOOL, message);

const flags = parseFlags(TOOL, {
  mode: { type: 'string', default: 'ack', help: 'ack: publish→OK latency and msgs/s; rss: peak RSS with --messages queued' },
  runtime: { type: 'string', default: 'node', help: 'server runtime: node (this Node), node20, node24, bun, deno' },
  durable: { type: 'bool', default: true, help: 'ack mode: start nsqd with --durable' },
  publishers: { type: 'string', default: '1,50', help: 'ack mode: publishing connections, one run per comma-separated value' },
  'batch-size': { type: 'int', default: 1, help: 'ack mode: messages per command (1: PUB, more: MPUB)' },
  size: { type: 'int', default: 100, help: 'message bytes' },
  runfor: { type: 'duration', default: 3000, help: 'ack mode: duration of each run' },
  messages: { type: 'int', default: 1000000, help: 'rss mode: messages to queue' },
  stats: { type: 'bool', default: true, help: 'rss mode: ask for /stats once before measuring idle' },
  'mem-queue-size': { type: 'int', default: 10000, help: 'nsqd --mem-queue-size (nsqd default)' },
  'server-args': { type: 'string', default: '', help: 'extra nsqd flags, space-separated' },
  verbose: { type: 'bool', default: false, help: 'show the server log' },
});

function startServer(extra: string[]): Promise<RunningDaemon<'TCP' | 'HTTP'>> {
  return startDaemon({
    tool: TOOL, runtime: flags.runtime as string, daemon: 'nsqd', listening: ['TCP', 'HTTP'], verbose: flags.verbose as boolean,
    args: ['--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', `--mem-queue-size=${flags['mem-queue-size']}`,
      ...extra, ...(flags['server-args'] as string).split(' ').filter(Boolean)],
    dataDirPrefix: 'nsq-ts-disk-bench-',
  });
}

/** One round of --mode=ack: `n` publishers, each one command in flight. */
async function ackRun(address: string, n: number): Promise<{ msgsPerSec: number; p50: number; p99: number; max: number; acks: number }> {
  const batch = flags['batch-size'] as number;
  const body = messageBody(flags.size as number);
  const cmd = batch > 1 ? encodeMpub('ack_bench', body, batch) : encodePub('ack_bench', body);
  const sockets = await Promise.all(Array.from({ length: n }, () => connect(address)));
  const samples: number[] = [];
  const start = now();
  const deadline = start + (flags.runfor as number);
  await Promise.all(sockets.map((socket: net.Socket) => new Promise<void>((resolve) => {
    let sentAt = now();
    const parser = new FrameParser((type, buf, s, e) => {
      if (type === FRAME_RESPONSE && isText(buf, s, e, '_heartbeat_')) return void socket.write(NOP);
      if (type !== FRAME_RESPONSE || !isText(buf, s, e, 'OK')) fail(`unexpected frame ${type}: ${buf.toString('latin1', s, e)}`);
      const t = now();
      samples.push(t - sentAt);
      if (t >= deadline) {
        socket.destroy();
        return resolve();
      }
      sentAt = now();
      socket.write(cmd);
    });
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
    socket.on('error', (err) => fail(`connection error: ${err.message}`));
    sentAt = now();
    socket.write(cmd);
  })));
  const seconds = (now() - start) / 1000;
  const sorted = Float64Array.from(samples).sort();
  return { msgsPerSec: (samples.length * batch) / seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1]!, acks: samples.length };
}

/** Runs a bench client on the running Node to its end; resolves with its stdout. */
function runClient(file: string, args: string[]): Promise<string> {
  const [cmd, cmdArgs] = runtimeCommand(TOOL, 'node', join(root, 'bench', file), args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, cmdArgs, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${file} exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const runtime = flags.runtime as string;
  if (flags.mode === 'ack') {
    const durable = flags.durable as boolean;
    process.stdout.write(`# nsqd on ${runtime}${durable ? ' --durable' : ''} --mem-queue-size=${flags['mem-queue-size']}; ${flags['batch-size'] === 1 ? 'PUB' : `MPUB x${flags['batch-size']}`} of ${flags.size} B, one command in flight per publisher, ${flags.runfor} ms per run\n`);
    process.stdout.write('| publishers | msgs/s | acks/s | ack p50 ms | ack p99 ms | ack max ms |\n|---|---|---|---|---|---|\n');
    for (const n of (flags.publishers as string).split(',').map(Number)) {
      const server = await startServer(durable ? ['--durable'] : []);
      try {
        const r = await ackRun(server.addresses.TCP, n);
        const seconds = (flags.runfor as number) / 1000;
        process.stdout.write(`| ${n} | ${Math.round(r.msgsPerSec).toLocaleString('en-US')} | ${Math.round(r.acks / seconds).toLocaleString('en-US')} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.max.toFixed(3)} |\n`);
      } finally {
        await server.stop();
      }
    }
    return;
  }
  if (flags.mode === 'rss') {
    const server = await startServer([]);
    try {
      const pid = server.pid;
      const sub = await connect(server.addresses.TCP);
      sub.write('SUB sub_bench ch\n');
      await new Promise((r) => setTimeout(r, 300));
      sub.destroy();
      await new Promise((r) => setTimeout(r, 500));
      const quiet = memoryMiB(pid);
      // One /stats, as a monitor's poll would: answering HTTP is part of an idle nsqd.
      if (flags.stats) await (await fetch(`http://${server.addresses.HTTP}/stats?format=json`)).arrayBuffer();
      await new Promise((r) => setTimeout(r, 1000));
      const idle = memoryMiB(pid);
      // /proc keeps no peak of RssAnon: sample it.
      let peakAnon = idle.anon;
      const sampler = setInterval(() => (peakAnon = Math.max(peakAnon, memoryMiB(pid).anon)), 10);
      const out = await runClient('bench_writer.ts', [`--nsqd-tcp-address=${server.addresses.TCP}`, `--size=${flags.size}`, '--batch-size=200', '--concurrency=2', '--window=4', `--messages=${flags.messages}`, '--runfor=120s']);
      await new Promise((r) => setTimeout(r, 1000));
      clearInterval(sampler);
      const after = memoryMiB(pid);
      process.stdout.write(out.split('\n')[0] + '\n');
      process.stdout.write(`[${TOOL}] nsqd on ${runtime}, --mem-queue-size=${flags['mem-queue-size']}, ${flags.messages} x ${flags.size} B queued on sub_bench/ch: ` +
        `RSS before any HTTP request ${quiet.rss.toFixed(1)} MiB, idle RSS ${idle.rss.toFixed(1)} MiB (anonymous ${idle.anon.toFixed(1)}), peak RSS (VmHWM) ${after.hwm.toFixed(1)} MiB (anonymous ${peakAnon.toFixed(1)}), ` +
        `RSS after ${after.rss.toFixed(1)} MiB, peak growth ${(after.hwm - idle.rss).toFixed(1)} MiB\n`);
    } finally {
      await server.stop();
    }
    return;
  }
  fail(`unknown --mode ${String(flags.mode)}`);
}

await main();
