// Real nsqd processes for the durability tests: the daemon of the runtime
// running the tests (bin/nsqd under Node, adapters/bun/nsqd.ts under Bun,
// adapters/deno/nsqd.ts under Deno), so each runtime's Storage adapter is
// exercised end to end. Every wait is bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimeName } from '../helpers/runtime.ts';
import { bytes, decodeMessage, FRAME_ERROR, FRAME_MESSAGE, int32, mpubBody, WireClient, withBody, type Frame, type WireMessage } from '../helpers/wire.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Node 20 loads the TypeScript sources through tsx: a cold start can take a few seconds. */
export const START_MS = 20_000;
export const EXIT_MS = 15_000;

function command(args: string[]): [string, string[]] {
  switch (runtimeName) {
    case 'bun':
      return [process.execPath, [join(root, 'adapters', 'bun', 'nsqd.ts'), ...args]];
    case 'deno':
      return [process.execPath, ['run', '-A', '--no-check', join(root, 'adapters', 'deno', 'nsqd.ts'), ...args]];
    default:
      return [process.execPath, [join(root, 'bin', 'nsqd'), ...args]];
  }
}

export interface Exit {
  code: number | null;
  signal: string | null;
}

export interface Daemon {
  port: number;
  child: ChildProcess;
  log(): string;
  /** SIGTERM (or another signal) and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
  /** SIGKILL and wait for the exit. */
  kill9(): Promise<Exit>;
  exited: Promise<Exit>;
}

export function tempDataPath(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'nsqd-durability-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts nsqd on 127.0.0.1 (kernel-chosen port) with `--data-path=dir` and waits until it listens. */
export async function startDaemon(dir: string, args: string[] = []): Promise<Daemon> {
  const [cmd, argv] = command(['--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', `--data-path=${dir}`, ...args]);
  const child = spawn(cmd, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let log = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => (log += d));
  child.stderr!.on('data', (d: string) => (log += d));
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
    child.on('error', (e) => {
      log += `\nspawn error: ${String(e)}`;
      resolve({ code: null, signal: null });
    });
  });
  const waitExit = async (what: string): Promise<Exit> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${EXIT_MS} ms waiting for ${what}; log: ${log.slice(-1500)}`)), EXIT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`[${runtimeName}] nsqd did not listen within ${START_MS} ms; log: ${log.slice(-1500)}`)), START_MS);
    const check = () => {
      const m = /TCP: listening on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stderr!.on('data', check);
    child.stdout!.on('data', check);
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`[${runtimeName}] nsqd exited before listening; log: ${log.slice(-1500)}`));
    });
  });
  return {
    port,
    child,
    log: () => log,
    exited,
    stop: (signal = 'SIGTERM') => {
      child.kill(signal);
      return waitExit(`nsqd to exit on ${signal}`);
    },
    kill9: () => {
      child.kill('SIGKILL');
      return waitExit('nsqd to die on SIGKILL');
    },
  };
}

/**
 * SIGTERM and expect a clean exit (status 0, "exited" logged). Deno's
 * node:child_process reports a child that exited with 0 after a kill() as
 * killed by the signal, so there the log line is what tells.
 */
export async function stopClean(d: Daemon): Promise<void> {
  const exit = await d.stop('SIGTERM');
  const clean = exit.code === 0 || (runtimeName === 'deno' && exit.signal === 'SIGTERM' && /INFO: exited/.test(d.log()));
  if (!clean) throw new Error(`[${runtimeName}] nsqd did not exit cleanly (${JSON.stringify(exit)}); log: ${d.log().slice(-1500)}`);
}

/** A consumer: IDENTIFY (heartbeats on), SUB, RDY. */
export async function subscribe(port: number, topic: string, channel: string, rdy: number): Promise<WireClient> {
  const c = await WireClient.connect(port);
  await c.identify({ heartbeat_interval: 30_000 }); // longer than any wait here: no NOPs needed
  await c.sub(topic, channel, rdy);
  return c;
}

export async function mpub(c: WireClient, topic: string, bodies: string[]): Promise<void> {
  const body = mpubBody(bodies);
  c.write(bytes(`MPUB ${topic}\n`, int32(body.length), body));
  await c.expectResponse('OK', 10_000);
}

export async function dpub(c: WireClient, topic: string, ms: number, body: string): Promise<void> {
  c.write(withBody(`DPUB ${topic} ${ms}\n`, body));
  await c.expectResponse('OK', 10_000);
}

const isTimeout = (err: unknown) => err instanceof Error && err.message.startsWith('timed out');

/** Reads messages (FIN each when `fin`) until `done()` or `ms` pass; returns them with their arrival time. */
export async function consume(c: WireClient, done: (got: WireMessage[]) => boolean, ms: number, fin = true): Promise<{ msg: WireMessage; at: number }[]> {
  const out: { msg: WireMessage; at: number }[] = [];
  const deadline = performance.now() + ms;
  while (!done(out.map((o) => o.msg)) && performance.now() < deadline) {
    let f: Frame;
    try {
      f = await c.readNonHeartbeat(Math.max(1, Math.min(100, deadline - performance.now())));
    } catch (err) {
      if (isTimeout(err)) continue;
      throw err;
    }
    // After a crash a message may come twice (at least once): its second FIN fails, harmlessly.
    if (f.type === FRAME_ERROR && f.text.startsWith('E_FIN_FAILED')) continue;
    if (f.type !== FRAME_MESSAGE) throw new Error(`expected a message, got type ${f.type} ${JSON.stringify(f.text)}`);
    const m = decodeMessage(f);
    out.push({ msg: m, at: Date.now() });
    if (fin) c.write(`FIN ${m.id}\n`);
  }
  return out;
}
