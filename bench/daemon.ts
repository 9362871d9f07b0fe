// Shared pieces of the scripts that start nsqd or nsqlookupd as a child
// process (run.ts, disk.ts, http_pub.ts, lookupd.ts): which binary runs a
// TypeScript file on which runtime, starting a daemon and reading the
// addresses it logs, and a process's CPU time and memory from /proc.
// The wire-protocol client helpers stay in lib.ts.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { die } from './lib.ts';

export const root = fileURLToPath(new URL('..', import.meta.url));

export type Command = [string, string[]];

/** The machine's own node (Node 20 here): the first `node` on PATH outside node_modules/.bin. */
export function systemNode(tool: string): string {
  if (process.env.npm_node_execpath) return process.env.npm_node_execpath;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir.includes('node_modules')) continue;
    const p = join(dir, 'node');
    try {
      if (statSync(p).isFile()) return p;
    } catch { /* not there */ }
  }
  return die(tool, 'no system node on PATH');
}

// Node 24 strips types itself; an older Node needs tsx.
const nativeTs = Boolean((process as { features?: { typescript?: unknown } }).features?.typescript);
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

/**
 * Command line that runs a TypeScript file on a runtime: node (the running
 * Node), node20 (the system node through tsx), node24, bun or deno.
 * `nodeArgs` go to Node only.
 */
export function runtimeCommand(tool: string, runtime: string, file: string, args: string[], nodeArgs: string[] = []): Command {
  switch (runtime) {
    case 'node':
      return [process.execPath, [...nodeArgs, ...(nativeTs ? [] : ['--import', 'tsx']), file, ...args]];
    case 'node20':
      return [systemNode(tool), [...nodeArgs, '--import', 'tsx', file, ...args]];
    case 'node24':
      return [join(root, 'node_modules', 'node24', 'bin', 'node'), [...nodeArgs, file, ...args]];
    case 'bun':
      return [bin('bun'), ['run', file, ...args]];
    case 'deno':
      return [bin('deno'), ['run', '-A', '--no-check', file, ...args]];
    default:
      return die(tool, `unknown runtime ${runtime}`);
  }
}

export type Daemon = 'nsqd' | 'nsqlookupd';

/**
 * Command line that starts a daemon as its users do: on Node `bin/<daemon>`
 * (the bundle, see bin/launch.js; `nodeArgs` go to Node), on Bun and Deno
 * the adapter's entry point.
 */
export function daemonCommand(tool: string, runtime: string, daemon: Daemon, args: string[], nodeArgs: string[] = []): Command {
  if (runtime.startsWith('node')) {
    const [node] = runtimeCommand(tool, runtime, '', []); // exits on an unknown runtime
    return [node, [...nodeArgs, join(root, 'bin', daemon), ...args]];
  }
  const entry = join(root, 'adapters', runtime, `${daemon}.ts`);
  const command = runtimeCommand(tool, runtime, entry, args); // exits on an unknown runtime
  if (!existsSync(entry)) die(tool, `${entry} does not exist: no ${daemon} for ${runtime}`);
  return command;
}

// ---------------------------------------------------------------- /proc

export const CLK_TCK = 100; // Linux USER_HZ

/** The fields of /proc/<pid>/stat after the command name (so [0] is field 3, state); undefined if unknown. */
export function statFields(pid: number): string[] | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' '); // the name may hold spaces and ')'
  } catch {
    return undefined;
  }
}

/** CPU seconds a process used so far in user and system mode; NaN if unknown. */
export function cpuTimes(pid: number): { user: number; sys: number } {
  const f = statFields(pid);
  if (!f) return { user: NaN, sys: NaN };
  return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK }; // utime, stime (fields 14, 15)
}

/** CPU seconds (user + system) of a process so far; NaN if unknown. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.sys;
}

/**
 * A process's resident memory now (VmRSS), at its peak (VmHWM), and the
 * anonymous part of it now (RssAnon: the process's own memory, without the
 * pages of its executable and libraries) in MiB, from /proc; NaN if unknown.
 */
export function memoryMiB(pid: number): { rss: number; hwm: number; anon: number } {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch { /* gone: NaN below */ }
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(text)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024, anon: kb('RssAnon') / 1024 };
}

// ---------------------------------------------------------------- daemons

export type Listener = 'TCP' | 'HTTP';

export interface DaemonOptions<L extends Listener> {
  tool: string;
  runtime: string;
  daemon: Daemon;
  args: string[];
  /** The listeners whose "<L>: listening on <address>" log lines to wait for. */
  listening: readonly L[];
  verbose: boolean;
  /** Extra Node options (node runtimes only). */
  nodeArgs?: string[];
  /** Start in a new temporary --data-path with this name prefix, removed on stop(). */
  dataDirPrefix?: string;
  /** Rewrites the command line, e.g. to run it under taskset (which execs, so the pid stays the daemon's). */
  wrap?: (command: Command) => Command;
}

export interface RunningDaemon<L extends Listener> {
  addresses: Record<L, string>;
  pid: number;
  /** SIGTERM, SIGKILL if it has not exited within 15 s; then removes the data dir. */
  stop(): Promise<void>;
}

/** Starts a daemon on 127.0.0.1 and waits (20 s at most) until it logs the addresses it listens on. */
export async function startDaemon<L extends Listener>(opts: DaemonOptions<L>): Promise<RunningDaemon<L>> {
  const command = daemonCommand(opts.tool, opts.runtime, opts.daemon, opts.args, opts.nodeArgs);
  // The data dir is made only once the command is known (a bad --runtime
  // exits in daemonCommand). The daemon's args end every command line; the
  // --data-path goes before them, so that one in --server-args still wins.
  const dataDir = opts.dataDirPrefix === undefined ? undefined : mkdtempSync(join(tmpdir(), opts.dataDirPrefix));
  if (dataDir !== undefined) command[1].splice(command[1].length - opts.args.length, 0, `--data-path=${dataDir}`);
  const [cmd, cmdArgs] = opts.wrap ? opts.wrap(command) : command;
  if (opts.verbose) process.stderr.write(`[${opts.tool}] server: ${cmd} ${cmdArgs.join(' ')}\n`);
  const removeDataDir = () => {
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  };
  const child = spawn(cmd, cmdArgs, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let addresses: Record<L, string>;
  try {
    addresses = await new Promise<Record<L, string>>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`${opts.daemon} did not start in 20s:\n${log}`)), 20000);
      const onData = (d: Buffer) => {
        log += d.toString();
        if (opts.verbose) process.stderr.write(d);
        const found = {} as Record<L, string>;
        for (const l of opts.listening) {
          const m = new RegExp(`${l}: listening on (\\S+)`).exec(log);
          if (!m) return;
          found[l] = m[1]!;
        }
        clearTimeout(timer);
        resolve(found);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${opts.daemon} exited (${code}) before listening:\n${log}`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    removeDataDir();
    throw err;
  }
  return {
    addresses,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(killer);
      removeDataDir();
    },
  };
}
