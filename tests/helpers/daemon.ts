// The real bin/nsqd and bin/nsqlookupd as child processes, for the cluster
// tests: started on kernel-chosen ports (read back from their "listening on"
// log lines), signalled, stopped, and always killed when the test process
// exits.
//
// Which Node runs them (as tests/cli/nsqd_cli.test.ts): under Node, the Node
// running the tests; under Bun and Deno, `npm_node_execpath` (the machine's
// Node that runs `npm test`), else `node` from PATH.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runtimeName } from './runtime.ts';

export const NODE = runtimeName === 'node' ? process.execPath : process.env.npm_node_execpath || 'node';
const BIN = (name: string) => fileURLToPath(new URL(`../../bin/${name}`, import.meta.url));

/** Node 20 loads the TypeScript sources through tsx: a cold start can take a second or more. */
export const START_MS = 20_000;
export const STOP_MS = 10_000;

export interface Exit {
  code: number | null;
  signal: string | null;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export class Daemon {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  tcpPort = 0;
  httpPort = 0;
  private err = '';
  private done = false;

  constructor(name: string, cmd: string, args: string[]) {
    this.name = name;
    this.child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    live.add(this.child);
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (d: string) => (this.err += d));
    this.exited = new Promise<Exit>((resolve) => {
      this.child.on('close', (code, signal) => {
        this.done = true;
        live.delete(this.child);
        resolve({ code, signal });
      });
      this.child.on('error', (e) => {
        this.done = true;
        live.delete(this.child);
        this.err += `\nspawn error: ${String(e)}`;
        resolve({ code: null, signal: null });
      });
    });
  }

  stderr(): string {
    return this.err;
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

  /** Waits for both "TCP: listening on" and "HTTP: listening on" and records the ports. */
  async ready(ms = START_MS): Promise<this> {
    const deadline = Date.now() + ms;
    for (;;) {
      const tcp = /TCP: listening on \S*:(\d+)/.exec(this.err);
      const http = /HTTP: listening on \S*:(\d+)/.exec(this.err);
      if (tcp && http) {
        this.tcpPort = Number(tcp[1]);
        this.httpPort = Number(http[1]);
        return this;
      }
      if (this.done) throw new Error(`${this.name} exited before listening; stderr: ${this.err.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not start listening within ${ms} ms; stderr: ${this.err.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  signal(sig: NodeJS.Signals): void {
    // process.kill, not child.kill: see tests/cli/nsqd_cli.test.ts (Deno records the signal as the exit cause).
    if (!this.done && this.child.pid !== undefined) process.kill(this.child.pid, sig);
  }

  /** SIGTERM and wait for the exit (SIGKILL after `ms`). */
  async stop(ms = STOP_MS): Promise<Exit> {
    if (this.done) return this.exited;
    this.signal('SIGCONT'); // in case it was stopped
    this.signal('SIGTERM');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.kill();
        resolve();
      }, ms);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }

  kill(): void {
    if (!this.done) this.child.kill('SIGKILL');
  }
}

/** Starts bin/<name> with `args` (through `prefix`, e.g. ["ip", "netns", "exec", "ns1"]) and waits until it listens. */
export async function startDaemon(name: 'nsqd' | 'nsqlookupd', args: string[], prefix: string[] = []): Promise<Daemon> {
  const argv = [NODE, BIN(name), ...args];
  const d = prefix.length > 0 ? new Daemon(name, prefix[0]!, [...prefix.slice(1), ...argv]) : new Daemon(name, argv[0]!, argv.slice(1));
  try {
    return await d.ready();
  } catch (err) {
    d.kill();
    throw err;
  }
}

/** Runs bin/<name> with `args` until it exits by itself (--help, --version, a bad flag); kills it after `ms`. */
export async function runToExit(name: 'nsqd' | 'nsqlookupd', args: string[], ms = START_MS): Promise<Exit & { stdout: string; stderr: string }> {
  const child = spawn(NODE, [BIN(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => (stdout += d));
  child.stderr!.on('data', (d: string) => (stderr += d));
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const exit = await new Promise<Exit>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${name} ${args.join(' ')} did not exit within ${ms} ms; stderr: ${stderr.slice(-1000)}`)), ms);
      child.on('close', (code, signal) => resolve({ code, signal }));
      child.on('error', reject);
    });
    return { ...exit, stdout, stderr };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    live.delete(child);
  }
}
