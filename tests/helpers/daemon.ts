// nsqd and nsqlookupd as child processes, for every test that starts the real
// daemon: started with command-line flags, their listening addresses read
// from their log, stopped with a signal or killed, their output and exit
// status read back. Every wait is bounded, and any daemon still running when
// the test process exits is killed.
//
//   startDaemon(kind, args, opts)        start and wait until it listens
//   startOnFreePorts(kind, args, opts)   the same on two ports picked free, retried if one was taken meanwhile
//   runToExit(kind, args, opts)          run until it exits by itself (--help, a bad flag)
//   new Daemon(kind, args, opts)         start without waiting
//
// Which executable (`opts.on`):
// - 'self' (default): the entry point of the runtime running the tests,
//   bin/<kind> on Node (the Node running the tests), adapters/bun/<kind>.ts on
//   Bun, adapters/deno/<kind>.ts on Deno, so each runtime's adapters are
//   exercised end to end.
// - 'node': bin/<kind> on Node, whatever runs the tests. Under Node that is
//   the Node running the tests (Node 20 through tsx, or Node 24 with native
//   type stripping). Under Bun and Deno, `process.execPath` is bun/deno, which
//   must not stand in for Node: we take `npm_node_execpath` (the machine's
//   Node that runs npm, set when the tests run through `npm test`), else
//   `node` from PATH. Under npm, PATH's `node` would be node_modules/.bin/node
//   (Node 24), which is why npm_node_execpath comes first. The tests then
//   still exercise the runtime's node:child_process and node:net against it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { get } from './http.ts';
import { runtimeName } from './runtime.ts';

export type Kind = 'nsqd' | 'nsqlookupd';

export const NODE = runtimeName === 'node' ? process.execPath : process.env.npm_node_execpath || 'node';
const root = fileURLToPath(new URL('../..', import.meta.url));

/** A cold start (tsx on Node 20, Deno compiling on first run) can take a few seconds. */
export const START_MS = 30_000;
export const STOP_MS = 15_000;

export interface Exit {
  code: number | null;
  signal: string | null;
}

export interface DaemonOptions {
  /** 'self' (default): the entry point of the runtime running the tests; 'node': bin/<kind> on Node. */
  on?: 'self' | 'node';
  /** Working folder (nsqd's default --data-path). */
  cwd?: string;
  /** A command that runs the daemon, e.g. ["ip", "netns", "exec", "ns1"]. */
  prefix?: string[];
}

function command(kind: Kind, args: string[], on: 'self' | 'node'): string[] {
  if (on === 'node') return [NODE, join(root, 'bin', kind), ...args];
  switch (runtimeName) {
    case 'bun':
      return [process.execPath, join(root, 'adapters', 'bun', `${kind}.ts`), ...args];
    case 'deno':
      return [process.execPath, 'run', '-A', '--no-check', join(root, 'adapters', 'deno', `${kind}.ts`), ...args];
    default:
      return [process.execPath, join(root, 'bin', kind), ...args];
  }
}

/** `p`, or an error naming `what()` after `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`[${runtimeName}] timed out after ${ms} ms waiting for ${what()}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export class Daemon {
  readonly name: Kind;
  readonly args: string[];
  readonly child: ChildProcess;
  /** The exit status, once both pipes are drained. */
  readonly exited: Promise<Exit>;
  /** Set by listening() (or by startOnFreePorts to the ports it picked). */
  tcpPort = 0;
  httpPort = 0;
  private out = '';
  private err = '';
  private all = '';
  private done = false;

  /** Starts the daemon; does not wait for anything. */
  constructor(kind: Kind, args: string[], opts: DaemonOptions = {}) {
    this.name = kind;
    this.args = args;
    const argv = [...(opts.prefix ?? []), ...command(kind, args, opts.on ?? 'self')];
    this.child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    live.add(this.child);
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.out += d;
      this.all += d;
    });
    this.child.stderr!.on('data', (d: string) => {
      this.err += d;
      this.all += d;
    });
    this.exited = new Promise<Exit>((resolve) => {
      // 'close' (not 'exit'): both pipes are drained by then.
      this.child.on('close', (code, signal) => {
        this.done = true;
        live.delete(this.child);
        resolve({ code, signal });
      });
      this.child.on('error', (e) => {
        this.done = true;
        live.delete(this.child);
        this.err += `\nspawn error: ${String(e)}`;
        this.all += `\nspawn error: ${String(e)}`;
        resolve({ code: null, signal: null });
      });
    });
  }

  stdout(): string {
    return this.out;
  }

  stderr(): string {
    return this.err;
  }

  /** stdout and stderr together, in the order they came. */
  log(): string {
    return this.all;
  }

  running(): boolean {
    return !this.done;
  }

  /** "127.0.0.1:<tcp port>" */
  get tcpAddress(): string {
    return `127.0.0.1:${this.tcpPort}`;
  }

  /** "http://127.0.0.1:<http port>" */
  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  private describe(): string {
    return `[${runtimeName}] ${this.name} ${this.args.join(' ')}`;
  }

  /** Waits for "TCP: listening on" (and "HTTP: listening on" unless `http` is false) and records the ports. */
  async listening({ http = true, ms = START_MS }: { http?: boolean; ms?: number } = {}): Promise<this> {
    const deadline = Date.now() + ms;
    for (;;) {
      const tcp = /TCP: listening on \S*?:(\d+)/.exec(this.all);
      const web = /HTTP: listening on \S*?:(\d+)/.exec(this.all);
      if (tcp && (web || !http)) {
        this.tcpPort = Number(tcp[1]);
        if (web) this.httpPort = Number(web[1]);
        return this;
      }
      if (this.done) throw new Error(`${this.describe()} exited before listening; log: ${this.all.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`${this.describe()} did not start listening within ${ms} ms; log: ${this.all.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits until GET /ping on `httpPort` answers 200 (for a log that does not say, e.g. --log-level=warn). */
  async ping(ms = START_MS): Promise<this> {
    const deadline = Date.now() + ms;
    while (!this.done && Date.now() < deadline) {
      try {
        if ((await get(this.httpPort, '/ping', { timeoutMs: 1000 })).status === 200) return this;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${this.describe()} did not answer /ping on port ${this.httpPort} within ${ms} ms (${this.done ? 'exited' : 'still running'}); log: ${this.all.slice(-2000)}`);
  }

  signal(sig: NodeJS.Signals): void {
    // process.kill(pid), not child.kill(): Deno's node:child_process (2.9) records the
    // signal given to ChildProcess.kill() as the child's signalCode and then reports
    // (code null, signal SIGTERM) even when the child caught it and exited 0 by itself.
    // process.kill sends the same signal and leaves the real exit status visible.
    if (!this.done && this.child.pid !== undefined) process.kill(this.child.pid, sig);
  }

  /** `sig` (SIGTERM by default) and wait for the exit; SIGKILL after `ms`. */
  async stop(sig: NodeJS.Signals = 'SIGTERM', ms = STOP_MS): Promise<Exit> {
    if (this.done) return this.exited;
    this.signal('SIGCONT'); // in case it was stopped
    this.signal(sig);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (!this.done) this.child.kill('SIGKILL');
        resolve();
      }, ms);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }

  /** SIGKILL and wait for the exit (an error after `ms`). */
  kill9(ms = STOP_MS): Promise<Exit> {
    if (!this.done) this.child.kill('SIGKILL');
    return within(this.exited, ms, () => `${this.describe()} to die on SIGKILL; log: ${this.all.slice(-1000)}`);
  }
}

/** Starts the daemon and waits until its log says it listens (TCP, and HTTP unless `opts.http` is false). */
export async function startDaemon(kind: Kind, args: string[], opts: DaemonOptions & { http?: boolean } = {}): Promise<Daemon> {
  const d = new Daemon(kind, args, opts);
  try {
    return await d.listening({ http: opts.http });
  } catch (err) {
    await d.kill9().catch(() => {});
    throw err;
  }
}

/** A port that was free a moment ago (the kernel's pick for port 0). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/**
 * Starts the daemon with `args(tcp, http)` ("127.0.0.1:<port>", two ports free
 * a moment ago) and waits until it listens there: its log says so (`ready:
 * 'log'`, the default; HTTP too unless `http` is false) or GET /ping answers
 * (`ready: 'ping'`). Retries with other ports if one was taken meanwhile.
 */
export async function startOnFreePorts(
  kind: Kind,
  args: (tcp: string, http: string) => string[] | Promise<string[]>,
  opts: DaemonOptions & { http?: boolean; ready?: 'log' | 'ping' } = {},
): Promise<Daemon> {
  for (let attempt = 1; ; attempt++) {
    const tcpPort = await freePort();
    const httpPort = await freePort();
    const d = new Daemon(kind, await args(`127.0.0.1:${tcpPort}`, `127.0.0.1:${httpPort}`), opts);
    d.tcpPort = tcpPort;
    d.httpPort = httpPort;
    try {
      if (opts.ready === 'ping') return await d.ping();
      await d.listening({ http: opts.http });
      if (d.tcpPort !== tcpPort) throw new Error(`[${runtimeName}] ${kind} ${d.args.join(' ')} listens on TCP port ${d.tcpPort}, not ${tcpPort}; log: ${d.log().slice(-1000)}`);
      return d;
    } catch (err) {
      await d.kill9().catch(() => {});
      if (attempt < 3 && /EADDRINUSE|address already in use/i.test(d.log())) continue;
      throw err;
    }
  }
}

/** Runs the daemon until it exits by itself (--help, --version, a bad flag); kills it after `ms`. */
export async function runToExit(kind: Kind, args: string[], opts: DaemonOptions & { ms?: number } = {}): Promise<Exit & { stdout: string; stderr: string }> {
  const d = new Daemon(kind, args, opts);
  try {
    const exit = await within(d.exited, opts.ms ?? START_MS, () => `\`${kind} ${args.join(' ')}\` to exit; stderr: ${d.stderr().slice(-1000)}`);
    return { ...exit, stdout: d.stdout(), stderr: d.stderr() };
  } finally {
    await d.kill9().catch(() => {});
  }
}

/** Runs `fn` with the daemon once `start` has it listening, and kills it afterwards, whatever happened. */
export async function withDaemon<T>(start: Promise<Daemon>, fn: (d: Daemon) => Promise<T>): Promise<T> {
  const d = await start;
  try {
    return await fn(d);
  } finally {
    await d.kill9();
  }
}

/** Runs `fn` in a fresh temporary folder (a daemon's working folder or data path), removed afterwards. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
