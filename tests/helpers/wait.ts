// Bounded waiting and consuming for the nsqd tests: every wait has a deadline
// and fails with a message naming what it waited for.
import { bytes, int32, mpubBody, type WireClient, type WireMessage } from './wire.ts';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `cond` every few ms until it holds; throws after `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** MPUB `messages` to `topic` and wait for the OK. */
export async function mpub(c: WireClient, topic: string, messages: string[]): Promise<void> {
  const body = mpubBody(messages);
  c.write(bytes(`MPUB ${topic}\n`, int32(body.length), body));
  await c.expectResponse('OK', 5000);
}

/** Reads exactly `n` messages, each within `ms`. */
export async function readMessages(c: WireClient, n: number, ms = 2000): Promise<WireMessage[]> {
  const out: WireMessage[] = [];
  for (let i = 0; i < n; i++) out.push(await c.readMessage(ms));
  return out;
}

const isTimeout = (err: unknown) => err instanceof Error && err.message.startsWith('timed out');

/**
 * Reads messages from `c` and hands each to `onMessage` until `done()` holds or
 * `deadlineMs` (a performance.now() time) passes. Silence is not an error;
 * anything but a message (an error frame, a closed connection) is.
 */
export async function consumeUntil(c: WireClient, onMessage: (m: WireMessage) => void, done: () => boolean, deadlineMs: number): Promise<void> {
  while (!done()) {
    const left = deadlineMs - performance.now();
    if (left <= 0) return;
    let m: WireMessage;
    try {
      m = await c.readMessage(Math.min(50, left));
    } catch (err) {
      if (isTimeout(err)) continue;
      throw err;
    }
    onMessage(m);
  }
}

/** Reads messages until none arrives for `quietMs` (bounded by `maxMs` overall). */
export async function readUntilQuiet(c: WireClient, quietMs: number, maxMs: number): Promise<WireMessage[]> {
  const out: WireMessage[] = [];
  const deadline = performance.now() + maxMs;
  for (;;) {
    if (performance.now() > deadline) throw new Error(`messages still arriving after ${maxMs} ms (${out.length} so far)`);
    try {
      out.push(await c.readMessage(quietMs));
    } catch (err) {
      if (isTimeout(err)) return out;
      throw err;
    }
  }
}
