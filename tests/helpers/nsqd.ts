// Starts a whole nsqd in-process on 127.0.0.1 with a kernel-chosen port, on
// the runtime running the tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger, silentLogger } from '../../core/log.ts';
import { NSQD } from '../../core/nsqd/nsqd.ts';
import type { NsqdOptions } from '../../core/nsqd/options.ts';
import type { Runtime } from '../../core/ports.ts';
import { runtime } from './runtime.ts';
import { WireClient } from './wire.ts';

export interface TestNsqd {
  nsqd: NSQD;
  port: number;
  /** The HTTP API's port on 127.0.0.1 (-1 with httpAddress: ''). */
  httpPort: number;
  close(): Promise<void>;
}

/** NSQ_TEST_LOG=debug shows the daemon's log while a test runs. */
const testLogLevel = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.NSQ_TEST_LOG;

/**
 * Without a --data-path in `opts`, each nsqd gets a fresh temporary one,
 * removed by close(). `adapter` replaces parts of the runtime's adapter (a
 * Storage that fails on purpose).
 */
export async function startNsqd(opts: Partial<NsqdOptions> = {}, adapter: Partial<Runtime> = {}): Promise<TestNsqd> {
  const logger = testLogLevel ? new Logger(testLogLevel as 'debug', '[nsqd] ') : silentLogger;
  const tmp = opts.dataPath === undefined ? mkdtempSync(join(tmpdir(), 'nsqd-test-')) : undefined;
  const nsqd = new NSQD({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', ...(tmp ? { dataPath: tmp } : {}), ...opts }, { runtime: { ...runtime, ...adapter }, logger });
  const removeTmp = () => tmp && rmSync(tmp, { recursive: true, force: true });
  try {
    await nsqd.start();
  } catch (err) {
    removeTmp();
    throw err;
  }
  return {
    nsqd,
    port: nsqd.tcpAddress.port,
    httpPort: nsqd.httpPort,
    close: async () => {
      try {
        await nsqd.close();
      } finally {
        removeTmp();
      }
    },
  };
}

export type Connect = (opts?: { magic?: boolean }) => Promise<WireClient>;

/** Runs `body` against a fresh nsqd; closes every client it connected and the nsqd afterwards. */
export async function withNsqd(opts: Partial<NsqdOptions>, body: (d: TestNsqd, connect: Connect) => Promise<void>): Promise<void> {
  const d = await startNsqd(opts);
  const clients: WireClient[] = [];
  try {
    await body(d, async (o) => {
      const c = await WireClient.connect(d.port, o);
      clients.push(c);
      return c;
    });
  } finally {
    for (const c of clients) c.destroy();
    await d.close();
  }
}

/** withNsqd, then a fresh connection must still publish: whatever the body did to its own connections, the server kept serving. */
export function withServingNsqd(opts: Partial<NsqdOptions>, body: (d: TestNsqd, connect: Connect) => Promise<void>): Promise<void> {
  return withNsqd(opts, async (d, connect) => {
    await body(d, connect);
    await (await connect()).pub('probe', 'x');
  });
}
