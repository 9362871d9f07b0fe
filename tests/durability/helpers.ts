// Real nsqd processes for the durability tests (tests/helpers/daemon.ts): the
// daemon of the runtime running the tests (bin/nsqd under Node,
// adapters/bun/nsqd.ts under Bun, adapters/deno/nsqd.ts under Deno), so each
// runtime's Storage adapter is exercised end to end. Every wait is bounded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.ts';
import { runtimeName } from '../helpers/runtime.ts';
import { bytes, decodeMessage, FRAME_ERROR, FRAME_MESSAGE, int32, mpubBody, WireClient, withBody, type Frame, type WireMessage } from '../helpers/wire.ts';

export function tempDataPath(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'nsqd-durability-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts nsqd on 127.0.0.1 (kernel-chosen ports) with `--data-path=dir` and waits until it listens. */
export function startNsqdProcess(dir: string, args: string[] = []): Promise<Daemon> {
  return startDaemon('nsqd', ['--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', `--data-path=${dir}`, ...args], { cwd: dir });
}

/** SIGTERM and expect a clean exit (status 0). */
export async function stopClean(d: Daemon): Promise<void> {
  const exit = await d.stop();
  if (exit.code !== 0) throw new Error(`[${runtimeName}] nsqd did not exit cleanly (${JSON.stringify(exit)}); log: ${d.log().slice(-1500)}`);
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
