// Runs the benchmark scenarios against nsqd and prints a table of medians.
//
// For each of --rounds rounds it runs every scenario of --scenarios as a
// separate client process (bench_writer / bench_reader / bench_roundtrip, on
// --client-runtime) against a fresh nsqd child process (--runtime, on
// 127.0.0.1 with a kernel-chosen port and a new empty data dir), started for
// each scenario so that none inherits the millions of messages a writer left
// in memory (--shared-server: one server per round). consume runs on the
// server of the mpub before it, to read its messages.
// With --nsqd-tcp-address it uses that already running nsqd instead (Go
// nsqd, another build), with topic names unique to the run.
//
// Scenarios (in this order, as NSQ's bench.sh: the channel exists before the
// writer runs, and the reader consumes what the writer published):
//   mpub       bench_writer: MPUB batches of --batch-size x --size bytes, for --runfor
//   consume    bench_reader: RDY --rdy, FIN each, until the backlog is consumed
//              or --runfor; the backlog is topped up to --min-backlog first
//   roundtrip  bench_roundtrip: PUB→OK one at a time on --rt-connections connections
//   latency    bench_roundtrip --mode=latency: publish-to-receive at RDY 1
//   pub        (extra, not in the default list) bench_writer --single: PUB one message per command
//
// While each timed part runs, the CPU time of the server (from
// /proc/<pid>/stat; --server-pid for an external one) and of the client
// (process.cpuUsage(), reported by the client) is recorded, to tell which
// side was CPU-bound; so are the CPU the rest of the machine used (noise) and
// how often server and client sat on the same CPU (round trips depend on it;
// --pin fixes it with taskset).
//
//   node --import tsx bench/run.ts                       Node on the running Node
//   ./node_modules/.bin/node bench/run.ts --runtime=node20 --rounds=5
//   node --import tsx bench/run.ts --nsqd-tcp-address=127.0.0.1:4150 --server-pid=1234
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import {
  CLK_TCK, type Command, cpuSeconds, cpuTimes, memoryMiB, root, runtimeCommand, type RunningDaemon, startDaemon, statFields,
} from './daemon.ts';
import { connect, die, encodeIdentify, expectOks, parseFlags } from './lib.ts';

const TOOL = 'bench/run';
// Typed so that calls narrow like a `never` function declaration does.
const fail: (message: string) => never = (message) => die(TOOL, message);

const flags = parseFlags(TOOL, {
  runtime: { type: 'string', default: 'node', help: 'server runtime: node (the running Node), node20, node24, bun, deno' },
  'client-runtime': { type: 'string', default: 'node', help: 'runtime of the bench clients (same names)' },
  'nsqd-tcp-address': { type: 'string', default: '', help: 'benchmark this running nsqd instead of starting one' },
  'server-pid': { type: 'int', default: 0, help: 'pid of that running nsqd, to sample its CPU time' },
  'server-node-args': { type: 'string', default: '', help: 'extra Node options for a node server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"' },
  'server-args': { type: 'string', default: '', help: 'extra nsqd flags, space-separated' },
  'mem-queue-size': { type: 'int', default: 1000000, help: 'nsqd --mem-queue-size (NSQ bench.sh: 1000000)' },
  scenarios: { type: 'string', default: 'mpub,consume,roundtrip,latency', help: 'comma-separated: mpub, consume, roundtrip, latency, pub' },
  rounds: { type: 'int', default: 3, help: 'runs of each scenario; the table shows medians' },
  runfor: { type: 'duration', default: 3000, help: '--runfor of each timed client' },
  size: { type: 'int', default: 100, help: 'message size (bytes)' },
  'batch-size': { type: 'int', default: 200, help: 'messages per MPUB (mpub)' },
  concurrency: { type: 'int', default: 2, help: 'connections of the writer and the reader' },
  window: { type: 'int', default: 4, help: 'commands in flight per writer connection' },
  rdy: { type: 'int', default: 2500, help: 'RDY per reader connection (consume)' },
  'min-backlog': { type: 'int', default: 1000000, help: 'messages waiting before consume starts (topped up after mpub)' },
  'rt-connections': { type: 'int', default: 2, help: 'connections for roundtrip' },
  'json-out': { type: 'string', default: '', help: 'also write every measurement to this JSON file' },
  pin: { type: 'string', default: 'none', help: 'CPU placement with taskset: none (the scheduler decides), same (server and client on CPU 0), split (server on CPU 0, client on CPU 1)' },
  'shared-server': { type: 'bool', default: false, help: 'one nsqd for all scenarios of a round (default: a fresh one per scenario, consume after mpub excepted)' },
  verbose: { type: 'bool', default: false, help: 'show the clients\' and the server\'s output' },
});

const runtimeName = flags.runtime as string;
const clientRuntime = flags['client-runtime'] as string;
const external = flags['nsqd-tcp-address'] as string;
const runfor = flags.runfor as number;
const size = flags.size as number;
const rounds = flags.rounds as number;
const verbose = flags.verbose as boolean;
const sharedServer = flags['shared-server'] as boolean;
const pin = flags.pin as string;
if (!['none', 'same', 'split'].includes(pin)) fail(`--pin must be none, same or split`);

/** Prefixes a command with taskset to put it on one CPU (the pid stays the same: taskset execs). */
function pinned(cpu: string | undefined, [cmd, args]: Command): Command {
  return cpu === undefined ? [cmd, args] : ['taskset', ['-c', cpu, cmd, ...args]];
}
const serverCpuSet = pin === 'none' ? undefined : '0';
const clientCpuSet = pin === 'none' ? undefined : pin === 'same' ? '0' : '1';
const scenarios = (flags.scenarios as string).split(',').map((s) => s.trim()).filter(Boolean);

interface Scenario {
  metric: string;
  unit: string;
  /** Which value of the client's result is the figure. */
  key: string;
  /** Lower is better (latency). */
  lower?: boolean;
  target?: number;
  go?: number;
}

const SCENARIOS: Record<string, Scenario> = {
  mpub: { metric: `MPUB ${flags['batch-size']}x${size}B, ${flags.concurrency} conns`, unit: 'msgs/s', key: 'msgsPerSec', target: 600000, go: 304000 },
  consume: { metric: `consume ${size}B, RDY ${flags.rdy}, FIN each, ${flags.concurrency} conns`, unit: 'msgs/s', key: 'msgsPerSec', target: 300000, go: 198000 },
  roundtrip: { metric: `PUB→OK round trips, ${flags['rt-connections']} conns`, unit: 'trips/s', key: 'tripsPerSec', target: 35000, go: 35000 },
  latency: { metric: 'publish-to-receive p50, RDY 1', unit: 'ms', key: 'p50', lower: true, target: 0.15, go: 0.12 },
  pub: { metric: `PUB ${size}B, ${flags.concurrency} conns, window ${flags.window}`, unit: 'msgs/s', key: 'msgsPerSec' },
};
for (const s of scenarios) if (!SCENARIOS[s]) fail(`unknown scenario ${s}`);

// ---------------------------------------------------------------- /proc (beyond daemon.ts)

/** The CPU a process last ran on (field 39 of /proc/<pid>/stat), -1 if unknown. */
function lastCpu(pid: number): number {
  const f = statFields(pid);
  return f ? Number(f[36]) : -1;
}

/** CPU seconds all CPUs spent busy so far (everything but idle and iowait), from /proc/stat. */
function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) / CLK_TCK;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------- processes

function startServer(): Promise<RunningDaemon<'TCP'>> {
  return startDaemon({
    tool: TOOL, runtime: runtimeName, daemon: 'nsqd', listening: ['TCP'], verbose,
    args: [
      '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0',
      `--mem-queue-size=${flags['mem-queue-size']}`, `--max-rdy-count=${Math.max(2500, flags.rdy as number)}`,
      ...(flags['server-args'] as string).split(' ').filter(Boolean),
    ],
    nodeArgs: (flags['server-node-args'] as string).split(' ').filter(Boolean),
    dataDirPrefix: 'nsq-ts-bench-',
    wrap: (command) => pinned(serverCpuSet, command),
  });
}

interface ClientResult {
  result: Record<string, number>;
  serverCpu: number;
  /** Of serverCpu, the part spent in the kernel. */
  serverSys: number;
  clientCpu: number;
  /** CPU the rest of the machine used meanwhile (other processes, kernel threads), in cores. */
  otherCpu: number;
  /** Fraction of samples (every 20 ms) in which server and client had last run on the same CPU. */
  sameCpu: number;
  output: string;
}

/** Runs one bench client to its end; samples the server's CPU between its start and result lines. */
function runClient(file: string, args: string[], serverPid: number): Promise<ClientResult> {
  const [cmd, cmdArgs] = pinned(clientCpuSet, runtimeCommand(TOOL, clientRuntime, join(root, 'bench', file), [...args, '--json']));
  if (verbose) process.stderr.write(`[${TOOL}] client: ${cmd} ${cmdArgs.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(cmd, cmdArgs, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let buffered = '';
    let cpu0 = { user: NaN, sys: NaN };
    let client0 = NaN;
    let busy0 = NaN;
    let t0 = 0;
    let serverCpu = NaN;
    let serverSys = NaN;
    let clientCpu = NaN;
    let otherCpu = NaN;
    let sampler: ReturnType<typeof setInterval> | undefined;
    let samples = 0;
    let same = 0;
    let result: Record<string, number> | undefined;
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('{')) {
          const event = JSON.parse(line) as Record<string, number> & { event: string };
          if (event.event === 'start') {
            cpu0 = cpuTimes(serverPid);
            client0 = cpuSeconds(child.pid!);
            busy0 = machineBusySeconds();
            t0 = performance.now();
            if (serverPid) {
              sampler = setInterval(() => {
                const a = lastCpu(serverPid);
                const b = lastCpu(child.pid!);
                if (a < 0 || b < 0) return;
                samples++;
                if (a === b) same++;
              }, 20);
            }
          } else if (event.event === 'result') {
            const secs = (performance.now() - t0) / 1000;
            const cpu1 = cpuTimes(serverPid);
            serverCpu = (cpu1.user + cpu1.sys - cpu0.user - cpu0.sys) / secs;
            serverSys = (cpu1.sys - cpu0.sys) / secs;
            clientCpu = (cpuSeconds(child.pid!) - client0) / secs;
            const busy = (machineBusySeconds() - busy0) / secs;
            otherCpu = Math.max(0, busy - (Number.isNaN(serverCpu) ? 0 : serverCpu) - clientCpu);
            if (sampler) clearInterval(sampler);
            result = event;
          }
        } else {
          output += `${line}\n`;
          if (verbose) process.stderr.write(`  ${line}\n`);
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
      if (verbose) process.stderr.write(d);
    });
    child.once('exit', (code) => {
      if (sampler) clearInterval(sampler);
      const sameCpu = samples > 0 ? same / samples : NaN;
      if (code === 0 && result) resolve({ result, serverCpu, serverSys, clientCpu, otherCpu, sameCpu, output });
      else reject(new Error(`${file} ${args.join(' ')} failed (exit ${code}):\n${output}`));
    });
  });
}

/** Creates topic/channel by subscribing once (nsqd keeps a non-ephemeral channel). */
async function createChannel(address: string, topic: string, channel: string): Promise<void> {
  const socket = await connect(address);
  await expectOks(socket, [encodeIdentify({ client_id: 'bench-run' }), Buffer.from(`SUB ${topic} ${channel}\n`)], 2, 'create channel');
  socket.destroy();
}

// ---------------------------------------------------------------- scenarios

interface Measurement {
  scenario: string;
  round: number;
  value: number;
  serverCpu: number;
  serverSys: number;
  clientCpu: number;
  otherCpu: number;
  sameCpu: number;
  detail: string;
}

const measurements: Measurement[] = [];
/** Other processes using more than this many cores during a run make it "noisy". */
const NOISY = 0.3;

function record(scenario: string, round: number, r: ClientResult, detail = ''): void {
  const s = SCENARIOS[scenario]!;
  const value = r.result[s.key]!;
  const m: Measurement = { scenario, round, value, serverCpu: r.serverCpu, serverSys: r.serverSys, clientCpu: r.result.clientCpu ?? r.clientCpu, otherCpu: r.otherCpu, sameCpu: r.sameCpu, detail };
  measurements.push(m);
  process.stdout.write(
    `round ${round} ${scenario.padEnd(9)} ${fmt(value, s.unit).padStart(12)} ${s.unit.padEnd(7)} server CPU ${pct(m.serverCpu)} (sys ${pct(m.serverSys).trim()}) client CPU ${pct(m.clientCpu)} other ${pct(m.otherCpu)}${m.otherCpu > NOISY ? ' (noisy)' : ''} same-core ${pct(m.sameCpu)}${detail ? `  ${detail}` : ''}\n`,
  );
}

async function runRound(round: number): Promise<void> {
  const suffix = external ? `_${process.pid}_${round}` : '';
  const topic = `sub_bench${suffix}`;
  const channel = 'ch';
  const runforArg = `--runfor=${runfor}ms`;
  let server: RunningDaemon<'TCP'> | undefined;
  let address = external;
  let pid = flags['server-pid'] as number;
  /** Messages waiting on sub_bench/ch of the current server. */
  let backlog = 0;
  const fresh = async () => {
    if (external) return;
    if (server) {
      if (verbose) process.stderr.write(`[${TOOL}] server RSS before stopping: ${memoryMiB(server.pid).rss.toFixed(0)} MiB\n`);
      await server.stop();
    }
    server = await startServer();
    address = server.addresses.TCP;
    pid = server.pid;
    backlog = 0;
  };
  try {
    let previous = '';
    for (const scenario of scenarios) {
      // A fresh nsqd for each scenario, except that consume reads what
      // mpub/pub published just before.
      const chained = scenario === 'consume' && (previous === 'mpub' || previous === 'pub');
      if (previous === '' || (!chained && !sharedServer)) {
        await fresh();
        await createChannel(address, topic, channel);
      }
      previous = scenario;
      const common = [`--nsqd-tcp-address=${address}`, `--size=${size}`];
      const writerArgs = [...common, `--topic=${topic}`, `--concurrency=${flags.concurrency}`, `--window=${flags.window}`, `--batch-size=${flags['batch-size']}`];
      switch (scenario) {
        case 'mpub': {
          const r = await runClient('bench_writer.ts', [...writerArgs, runforArg], pid);
          backlog += r.result.msgs!;
          record(scenario, round, r);
          break;
        }
        case 'pub': {
          const r = await runClient('bench_writer.ts', [...writerArgs, '--single', runforArg], pid);
          backlog += r.result.msgs!;
          record(scenario, round, r);
          break;
        }
        case 'consume': {
          const min = flags['min-backlog'] as number;
          if (backlog < min) {
            const r = await runClient('bench_writer.ts', [...writerArgs, `--messages=${min - backlog}`], pid);
            backlog += r.result.msgs!;
          }
          const r = await runClient('bench_reader.ts', [
            ...common, `--topic=${topic}`, `--channel=${channel}`, `--rdy=${flags.rdy}`, `--concurrency=${flags.concurrency}`,
            `--messages=${backlog}`, runforArg,
          ], pid);
          const drained = r.result.msgs! >= backlog;
          backlog -= r.result.msgs!;
          record(scenario, round, r, drained ? `(backlog drained in ${r.result.seconds!.toFixed(2)}s)` : '');
          break;
        }
        case 'roundtrip': {
          const r = await runClient('bench_roundtrip.ts', [...common, `--topic=rt_bench${suffix}`, `--connections=${flags['rt-connections']}`, runforArg], pid);
          record(scenario, round, r);
          break;
        }
        case 'latency': {
          const r = await runClient('bench_roundtrip.ts', [...common, '--mode=latency', `--topic=lat_bench${suffix}`, runforArg], pid);
          record(scenario, round, r, `p90 ${r.result.p90!.toFixed(3)}ms p99 ${r.result.p99!.toFixed(3)}ms, ${fmt(r.result.tripsPerSec!, '')} trips/s`);
          break;
        }
      }
    }
  } finally {
    if (server && verbose) process.stderr.write(`[${TOOL}] server RSS before stopping: ${memoryMiB(server.pid).rss.toFixed(0)} MiB\n`);
    await server?.stop();
  }
}

// ---------------------------------------------------------------- report

function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function fmt(v: number, unit: string): string {
  if (Number.isNaN(v)) return 'n/a';
  return unit === 'ms' ? v.toFixed(3) : Math.round(v).toLocaleString('en-US');
}

function pct(v: number): string {
  return Number.isNaN(v) ? ' n/a' : `${(v * 100).toFixed(0).padStart(3)}%`;
}

/**
 * Which side was CPU-bound: a process near one full core, or the two filling
 * the one core they mostly shared (`same`: fraction of samples on one CPU).
 */
function bound(server: number, client: number, same: number): string {
  const busy = 0.85;
  if (server >= busy && server >= client) return 'server';
  if (client >= busy) return 'client';
  if (Number.isNaN(server)) return 'n/a';
  if (same >= 0.8 && server + client >= 0.9) return 'server+client, sharing one core';
  return 'neither (wake-up latency)';
}

function table(): string {
  const head = ['scenario', 'median', 'unit', 'rounds', 'target', 'Go 1.3.0', 'server CPU (sys)', 'client CPU', 'other CPU', 'same core', 'CPU-bound'];
  const rows = scenarios.map((name) => {
    const s = SCENARIOS[name]!;
    const ms = measurements.filter((m) => m.scenario === name);
    const med = median(ms.map((m) => m.value));
    const sc = median(ms.map((m) => m.serverCpu));
    const ss = median(ms.map((m) => m.serverSys));
    const cc = median(ms.map((m) => m.clientCpu));
    const oc = median(ms.map((m) => m.otherCpu));
    const same = median(ms.map((m) => m.sameCpu));
    const met = s.target === undefined ? '' : (s.lower ? med <= s.target : med >= s.target) ? ' ✓' : ' ✗';
    return [
      s.metric, fmt(med, s.unit), s.unit, ms.map((m) => fmt(m.value, s.unit)).join(' / '),
      s.target === undefined ? '' : `${s.lower ? '≤' : '≥'} ${fmt(s.target, s.unit)}${met}`, s.go === undefined ? '' : fmt(s.go, s.unit),
      `${pct(sc).trim()} (${pct(ss).trim()})`, pct(cc).trim(), pct(oc).trim(), pct(same).trim(), bound(sc, cc, same),
    ];
  });
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const server = external ? `external nsqd at ${external}` : `nsqd on ${runtimeName}`;
  process.stdout.write(`# ${server}; clients on ${clientRuntime}; --pin=${pin}; ${rounds} rounds, --runfor=${runfor}ms, ${new Date().toISOString()}\n`);
  if (external) process.stdout.write(`# note: messages published to the external nsqd stay there (topics *_${process.pid}_<round>)\n`);
  const t0 = performance.now();
  for (let round = 1; round <= rounds; round++) await runRound(round);
  process.stdout.write(`\nmedians over ${rounds} rounds (${((performance.now() - t0) / 1000).toFixed(0)}s in all):\n${table()}\n`);
  const out = flags['json-out'] as string;
  if (out) writeFileSync(out, JSON.stringify({ runtime: runtimeName, clientRuntime, external, runfor, rounds, measurements }, null, 2));
}

main().catch((err: unknown) => {
  process.stderr.write(`[${TOOL}] ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
