// HTTP publish throughput: POST /pub of --size bytes over --connections
// keep-alive connections, driven by wrk (Debian's `apt-get install -y wrk`;
// a C load generator costs the server's side far less CPU than a Node one on
// this 2-core machine). For each of --rounds rounds it starts a fresh nsqd on
// --runtime (or uses --nsqd-http-address), runs wrk for --runfor and records
// requests/s and the server's CPU; the table shows the medians.
//
//   ./node_modules/.bin/node bench/http_pub.ts                    # nsqd on Node 24
//   ./node_modules/.bin/node bench/http_pub.ts --runtime=bun      # and deno, node20
//   ./node_modules/.bin/node bench/http_pub.ts --nsqd-http-address=127.0.0.1:4151 --server-pid=$(pgrep -n nsqd)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuSeconds, type RunningDaemon, startDaemon } from './daemon.ts';
import { die, parseFlags } from './lib.ts';

const TOOL = 'bench/http_pub';

const flags = parseFlags(TOOL, {
  runtime: { type: 'string', default: 'node', help: 'nsqd runtime: node (the one running this), node20, node24, bun, deno' },
  'nsqd-http-address': { type: 'string', default: '', help: 'use this running nsqd (host:port) instead of starting one' },
  'server-pid': { type: 'int', default: 0, help: 'pid of that nsqd, for its CPU figures' },
  connections: { type: 'int', default: 50, help: 'keep-alive connections (wrk -c)' },
  threads: { type: 'int', default: 2, help: 'wrk threads (wrk -t)' },
  size: { type: 'int', default: 100, help: 'message bytes' },
  runfor: { type: 'duration', default: 10000, help: 'length of each round' },
  rounds: { type: 'int', default: 3, help: 'rounds (a fresh nsqd each)' },
  'mem-queue-size': { type: 'int', default: 10000, help: 'nsqd --mem-queue-size (NSQ\'s default: past it, messages go to the disk queue)' },
  'server-args': { type: 'string', default: '', help: 'extra nsqd flags, space-separated' },
  verbose: { type: 'bool', default: false, help: 'show commands and output' },
});

const runtimeName = flags.runtime as string;
const external = flags['nsqd-http-address'] as string;
const runfor = flags.runfor as number;
const fail: (message: string) => never = (message) => die(TOOL, message);

function startServer(): Promise<RunningDaemon<'HTTP'>> {
  return startDaemon({
    tool: TOOL, runtime: runtimeName, daemon: 'nsqd', listening: ['HTTP'], verbose: flags.verbose as boolean,
    args: ['--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0',
      `--mem-queue-size=${flags['mem-queue-size']}`, ...(flags['server-args'] as string).split(' ').filter(Boolean)],
    dataDirPrefix: 'nsq-ts-bench-http-',
  });
}

interface Result {
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  serverCpu: number;
}

const luaDir = mkdtempSync(join(tmpdir(), 'nsq-ts-bench-wrk-'));
const lua = join(luaDir, 'pub.lua');
writeFileSync(lua, [
  'wrk.method = "POST"',
  `wrk.body = string.rep("a", ${flags.size})`,
  'wrk.headers["Content-Type"] = "application/octet-stream"',
  'done = function(summary, latency, requests)',
  '  io.write(string.format("RESULT %d %f %f %d %d\\n", summary.requests, latency:percentile(50), latency:percentile(99),',
  '    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))',
  'end',
].join('\n'));

function wrkCommand(url: string): string[] {
  return [`-t${flags.threads}`, `-c${flags.connections}`, `-d${Math.round(runfor / 1000)}s`, '--latency', '-s', lua, url];
}

function runWrk(url: string, pid: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    const args = wrkCommand(url);
    if (flags.verbose) process.stderr.write(`[${TOOL}] wrk ${args.join(' ')}\n`);
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.once('exit', (code) => {
      const wall = (performance.now() - t0) / 1000;
      const cpu = (cpuSeconds(pid) - cpu0) / wall;
      if (flags.verbose) process.stderr.write(out);
      const m = /RESULT (\d+) ([\d.]+) ([\d.]+) (\d+) (\d+)/.exec(out);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || !m || !rps) return reject(new Error(`wrk failed (${code}):\n${out}`));
      resolve({ rps: Number(rps[1]), p50ms: Number(m[2]) / 1000, p99ms: Number(m[3]) / 1000, errors: Number(m[4]) + Number(m[5]), serverCpu: cpu });
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  if (spawnSync('wrk', ['--version']).error) fail('wrk is not installed: apt-get install -y wrk');
  const results: Result[] = [];
  for (let round = 1; round <= (flags.rounds as number); round++) {
    const server = external ? undefined : await startServer();
    const address = external || server!.addresses.HTTP;
    const pid = server?.pid ?? (flags['server-pid'] as number);
    try {
      const url = `http://${address}/pub?topic=http_bench_${process.pid}_${round}`;
      const r = await runWrk(url, pid);
      results.push(r);
      process.stdout.write(`[${TOOL}] round ${round}: ${Math.round(r.rps)} req/s, p50 ${r.p50ms.toFixed(2)} ms, p99 ${r.p99ms.toFixed(2)} ms, ` +
        `server CPU ${Number.isNaN(r.serverCpu) ? '?' : `${Math.round(r.serverCpu * 100)}%`}${r.errors ? `, ${r.errors} errors` : ''}\n`);
    } finally {
      await server?.stop();
    }
  }
  rmSync(luaDir, { recursive: true, force: true });
  const who = external ? `nsqd at ${external}` : `nsq-ts nsqd on ${runtimeName}`;
  process.stdout.write(`[${TOOL}] ${who}: POST /pub ${flags.size} B, ${flags.connections} connections, ${flags.threads} wrk threads, ` +
    `${flags.rounds} × ${Math.round(runfor / 1000)} s: median ${Math.round(median(results.map((r) => r.rps)))} req/s, ` +
    `p50 ${median(results.map((r) => r.p50ms)).toFixed(2)} ms, p99 ${median(results.map((r) => r.p99ms)).toFixed(2)} ms, ` +
    `server CPU ${Math.round(median(results.map((r) => r.serverCpu)) * 100)}%\n`);
  if (results.some((r) => r.errors > 0)) process.exitCode = 1;
}

await main();
