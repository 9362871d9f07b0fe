// Starts a whole nsqd in-process on 127.0.0.1 with a kernel-chosen port, on
// the runtime running the tests.
import { Logger, silentLogger } from '../../core/log.ts';
import { NSQD } from '../../core/nsqd/nsqd.ts';
import type { NsqdOptions } from '../../core/nsqd/options.ts';
import { runtime } from './runtime.ts';

export interface TestNsqd {
  nsqd: NSQD;
  port: number;
  close(): Promise<void>;
}

/** NSQ_TEST_LOG=debug shows the daemon's log while a test runs. */
const testLogLevel = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.NSQ_TEST_LOG;

export async function startNsqd(opts: Partial<NsqdOptions> = {}): Promise<TestNsqd> {
  const logger = testLogLevel ? new Logger(testLogLevel as 'debug', '[nsqd] ') : silentLogger;
  const nsqd = new NSQD({ tcpAddress: '127.0.0.1:0', ...opts }, { runtime, logger });
  await nsqd.start();
  return { nsqd, port: nsqd.tcpAddress.port, close: () => nsqd.close() };
}
