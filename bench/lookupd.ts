// nsqlookupd benchmarks (see README.md, "lookupd.ts"):
//
//   lookup    GET /lookup?topic=<one of --topics, at random> with wrk over
//             --connections keep-alive connections, while --producers V1
//             connections have each registered every topic (with a channel):
//             requests/s, latency, server CPU.
//   register  one V1 connection registers --register-topics topics:
//             - pipelined: every REGISTER in one write, then all the OKs;
//             - lookup_peer: nsqd's own client (core/nsqd/lookup_peer.ts)
//               connecting with that many topics to replay (magic, IDENTIFY,
//               REGISTERs), until it reports connected;
//             - sequential: one REGISTER per round trip, as Go nsqd's lookup
//               peer does (for comparison).
//
// Each round starts a fresh nsqlookupd child process on --runtime (or uses
// --lookupd-tcp-address/--lookupd-http-address); the clients run in this
// process (wrk in its own).
//
//   ./node_modules/.bin/node bench/lookupd.ts                   # nsqlookupd on Node 24
//   ./node_modules/.bin/node bench/lookupd.ts --runtime=bun     # node20, bun, deno
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '../core/log.ts';
import { LookupPeer } from '../core/nsqd/lookup_peer.ts';
import { nodeNet } from '../adapters/node/net.ts';
import { cpuSeconds, startDaemon } from './daemon.ts';
import { die, parseFlags } from './lib.ts';

const TOOL = 'bench/lookupd';

const flags = parseFlags(TOOL, {
  runtime: { type: 'string', default: 'node', help: 'nsqlookupd runtime: node (the one running this), node20, node24, bun, deno' },
  'lookupd-tcp-address': { type: 'string', default: '', help: 'use this running nsqlookupd (with --lookupd-http-address) instead of starting one' },
  'lookupd-http-address': { type: 'string', default: '', help: 'its HTTP address' },
  'server-pid': { type: 'int', default: 0, help: 'pid of that nsqlookupd, for its CPU figures' },
  scenarios: { type: 'string', default: 'lookup,register', help: 'lookup, register' },
  topics: { type: 'int', default: 1000, help: 'topics each producer registers (lookup)' },
  producers: { type: 'int', default: 10, help: 'producer (nsqd) connections (lookup)' },
  connections: { type: 'int', default: 50, help: 'wrk keep-alive connections (lookup)' },
  threads: { type: 'int', default: 1, help: 'wrk threads (lookup)' },
  runfor: { type: 'duration', default: 5000, help: 'length of each wrk run (lookup)' },
  'register-topics': { type: 'int', default: 10000, help: 'topics registered over one connection (register)' },
  rounds: { type: 'int', default: 3, help: 'rounds (a fresh nsqlookupd each)' },
  verbose: { type: 'bool', default: false, help: 'show commands and output' },
});

const runtimeName = flags.runtime as string;
const externalTcp = flags['lookupd-tcp-address'] as string;
const externalHttp = flags['lookupd-http-address'] as string;
const scenarios = (flags.scenarios as string).split(',');
const fail: (message: string) => never = (message) => die(TOOL, message);

async function startServer() {
  const d = await startDaemon({
    tool: TOOL, runtime: runtimeName, daemon: 'nsqlookupd', listening: ['TCP', 'HTTP'], verbose: flags.verbose as boolean,
    args: ['--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--broadcast-address=127.0.0.1'],
  });
  return { tcp: d.addresses.TCP, http: d.addresses.HTTP, pid: d.pid, stop: d.stop };
}

// ---- a minimal V1 client: [size][data] replies counted and collected

class V1 {
  readonly socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: { n: number; resolve: (replies: string[]) => void; replies: string[] }[] = [];
  private constructor(socket: net.Socket) {
    this.socket = socket;
  }

  static async connect(address: string): Promise<V1> {
    const i = address.lastIndexOf(':');
    const socket = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new V1(socket);
    socket.on('data', (d: Buffer) => c.onData(d));
    socket.write('  V1');
    return c;
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    let pos = 0;
    while (pos + 4 <= this.buf.length) {
      const size = this.buf.readInt32BE(pos);
      if (pos + 4 + size > this.buf.length) break;
      const w = this.waiters[0];
      if (w === undefined) fail('unexpected reply');
      w.replies.push(size === 2 && this.buf[pos + 4] === 0x4f && this.buf[pos + 5] === 0x4b ? 'OK' : this.buf.toString('utf8', pos + 4, pos + 4 + size));
      pos += 4 + size;
      if (w.replies.length === w.n) {
        this.waiters.shift();
        w.resolve(w.replies);
      }
    }
    this.buf = this.buf.subarray(pos);
  }

  /** Writes `data` and resolves with the next `n` replies. */
  send(data: string | Buffer, n: number): Promise<string[]> {
    const p = new Promise<string[]>((resolve) => this.waiters.push({ n, resolve, replies: [] }));
    this.socket.write(data);
    return p;
  }

  async identify(broadcast: string): Promise<void> {
    const body = Buffer.from(JSON.stringify({ broadcast_address: broadcast, hostname: broadcast, http_port: 4151, tcp_port: 4150, version: '1.3.0' }));
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length);
    const [r] = await this.send(Buffer.concat([Buffer.from('IDENTIFY\n'), size, body]), 1);
    if (!r!.startsWith('{')) fail(`IDENTIFY: ${r}`);
  }

  close(): void {
    this.socket.destroy();
  }
}

const allOk = (replies: string[], what: string) => {
  const bad = replies.find((r) => r !== 'OK');
  if (bad !== undefined) fail(`${what}: ${bad}`);
};

// ---- scenarios

interface LookupResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  serverCpu: number;
  setupMs: number;
}

async function lookupScenario(server: { tcp: string; http: string; pid: number }, round: number): Promise<LookupResult> {
  const topics = flags.topics as number;
  const prefix = `lk${round}_${process.pid}_`;
  const t0 = performance.now();
  const producers = await Promise.all(Array.from({ length: flags.producers as number }, async (_, i) => {
    const c = await V1.connect(server.tcp);
    await c.identify(`10.0.${round}.${i + 1}`);
    let text = '';
    for (let t = 0; t < topics; t++) text += `REGISTER ${prefix}${t} ch\n`;
    allOk(await c.send(text, topics), 'REGISTER');
    return c;
  }));
  const setupMs = performance.now() - t0;
  try {
    const check = await fetch(`http://${server.http}/lookup?topic=${prefix}0`);
    const body = (await check.json()) as { producers: unknown[]; channels: string[] };
    if (body.producers.length !== producers.length || body.channels.length !== 1) fail(`unexpected /lookup: ${JSON.stringify(body).slice(0, 300)}`);
    const dir = mkdtempSync(join(tmpdir(), 'nsq-ts-bench-lookupd-'));
    const lua = join(dir, 'lookup.lua');
    writeFileSync(lua, [
      `request = function() return wrk.format("GET", "/lookup?topic=${prefix}" .. math.random(0, ${topics - 1})) end`,
      'done = function(summary, latency, requests)',
      '  io.write(string.format("RESULT %d %f %f %d %d\\n", summary.requests, latency:percentile(50), latency:percentile(99),',
      '    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))',
      'end',
    ].join('\n'));
    const args = [`-t${flags.threads}`, `-c${flags.connections}`, `-d${Math.round((flags.runfor as number) / 1000)}s`, '-s', lua, `http://${server.http}/`];
    if (flags.verbose) process.stderr.write(`[${TOOL}] wrk ${args.join(' ')}\n`);
    const cpu0 = cpuSeconds(server.pid);
    const w0 = performance.now();
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d));
      child.stderr.on('data', (d: Buffer) => (text += d));
      child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk failed (${code}):\n${text}`))));
    });
    const wall = (performance.now() - w0) / 1000;
    const serverCpu = (cpuSeconds(server.pid) - cpu0) / wall;
    rmSync(dir, { recursive: true, force: true });
    if (flags.verbose) process.stderr.write(out);
    const m = /RESULT (\d+) ([\d.]+) ([\d.]+) (\d+) (\d+)/.exec(out);
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
    if (!m || !rps) fail(`no result from wrk:\n${out}`);
    return { rps: Number(rps[1]), p50ms: Number(m[2]) / 1000, p99ms: Number(m[3]) / 1000, errors: Number(m[4]) + Number(m[5]), serverCpu, setupMs };
  } finally {
    for (const c of producers) c.close();
  }
}

interface RegisterResult {
  pipelinedMs: number;
  lookupPeerMs: number;
  sequentialMs: number;
}

async function registerScenario(server: { tcp: string }, round: number): Promise<RegisterResult> {
  const n = flags['register-topics'] as number;
  // pipelined: one write, n OKs
  const a = await V1.connect(server.tcp);
  await a.identify(`10.1.${round}.1`);
  let text = '';
  for (let i = 0; i < n; i++) text += `REGISTER rp${round}_${process.pid}_${i}\n`;
  let t0 = performance.now();
  allOk(await a.send(text, n), 'REGISTER');
  const pipelinedMs = performance.now() - t0;
  a.close();

  // nsqd's lookup peer: connect, magic, IDENTIFY, replay of n topics
  const lines = Array.from({ length: n }, (_, i) => `REGISTER rl${round}_${process.pid}_${i}`);
  t0 = performance.now();
  const lookupPeerMs = await new Promise<number>((resolve) => {
    const peer = new LookupPeer(server.tcp, {
      net: nodeNet,
      logger: new Logger('warn', '[bench] ', (line) => process.stderr.write(line + '\n')),
      maxBodySize: 5 * 1024 * 1024,
      identifyBody: () => JSON.stringify({ broadcast_address: `10.2.${round}.1`, hostname: 'bench', http_port: 4151, tcp_port: 4150, version: '1.3.0' }),
      replay: () => lines,
      onConnected: () => {
        const ms = performance.now() - t0;
        peer.close();
        resolve(ms);
      },
    });
    peer.start();
  });

  // sequential: one REGISTER per round trip
  const s = await V1.connect(server.tcp);
  await s.identify(`10.3.${round}.1`);
  t0 = performance.now();
  for (let i = 0; i < n; i++) allOk(await s.send(`REGISTER rs${round}_${process.pid}_${i}\n`, 1), 'REGISTER');
  const sequentialMs = performance.now() - t0;
  s.close();
  return { pipelinedMs, lookupPeerMs, sequentialMs };
}

const median = (xs: number[]) => {
  const s = [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (x: number) => (Number.isNaN(x) ? '?' : `${Math.round(x * 100)}%`);

async function main(): Promise<void> {
  if (scenarios.includes('lookup') && spawnSync('wrk', ['--version']).error) fail('wrk is not installed: apt-get install -y wrk');
  if ((externalTcp === '') !== (externalHttp === '')) fail('give both --lookupd-tcp-address and --lookupd-http-address');
  const lookups: LookupResult[] = [];
  const registers: RegisterResult[] = [];
  for (let round = 1; round <= (flags.rounds as number); round++) {
    const server = externalTcp ? undefined : await startServer();
    const target = server ?? { tcp: externalTcp, http: externalHttp, pid: flags['server-pid'] as number };
    try {
      if (scenarios.includes('lookup')) {
        const r = await lookupScenario(target, round);
        lookups.push(r);
        process.stdout.write(`[${TOOL}] round ${round}: /lookup ${Math.round(r.rps)} req/s, p50 ${r.p50ms.toFixed(2)} ms, p99 ${r.p99ms.toFixed(2)} ms, ` +
          `server CPU ${pct(r.serverCpu)}${r.errors ? `, ${r.errors} errors` : ''} (setup: ${flags.producers} × ${flags.topics} REGISTERs in ${r.setupMs.toFixed(0)} ms)\n`);
      }
      if (scenarios.includes('register')) {
        const r = await registerScenario(target, round);
        registers.push(r);
        process.stdout.write(`[${TOOL}] round ${round}: ${flags['register-topics']} REGISTERs over one connection: pipelined ${r.pipelinedMs.toFixed(0)} ms, ` +
          `nsqd's lookup peer (connect + IDENTIFY + replay) ${r.lookupPeerMs.toFixed(0)} ms, sequential round trips ${r.sequentialMs.toFixed(0)} ms\n`);
      }
    } finally {
      await server?.stop();
    }
  }
  const who = externalTcp ? `nsqlookupd at ${externalTcp}` : `nsq-ts nsqlookupd on ${runtimeName}`;
  if (lookups.length > 0) {
    process.stdout.write(`[${TOOL}] ${who}: GET /lookup, ${flags.topics} topics × ${flags.producers} producers, ${flags.connections} connections, ` +
      `${lookups.length} × ${Math.round((flags.runfor as number) / 1000)} s: median ${Math.round(median(lookups.map((r) => r.rps)))} req/s, ` +
      `p50 ${median(lookups.map((r) => r.p50ms)).toFixed(2)} ms, p99 ${median(lookups.map((r) => r.p99ms)).toFixed(2)} ms, server CPU ${pct(median(lookups.map((r) => r.serverCpu)))}\n`);
  }
  if (registers.length > 0) {
    process.stdout.write(`[${TOOL}] ${who}: ${flags['register-topics']} REGISTERs, median of ${registers.length}: pipelined ${median(registers.map((r) => r.pipelinedMs)).toFixed(0)} ms, ` +
      `lookup peer ${median(registers.map((r) => r.lookupPeerMs)).toFixed(0)} ms, sequential ${median(registers.map((r) => r.sequentialMs)).toFixed(0)} ms\n`);
  }
}

await main();
