// The nsqd command line, shared by every runtime's entry point: Go-style
// flags, --help and --version, start-up, and a clean shutdown on SIGINT or
// SIGTERM.
import type { ProcessPort } from '../cli.ts';
import { formatHelp, parseFlags } from '../config/flags.ts';
import { Logger, type LogLevel } from '../log.ts';
import type { Runtime } from '../ports.ts';
import { defaultNodeId } from './node_id.ts';
import { NSQD } from './nsqd.ts';
import { buildOptions, NSQD_FLAGS, VERSION } from './options.ts';

export async function nsqdMain(runtime: Runtime, proc: ProcessPort): Promise<NSQD | undefined> {
  let nsqd: NSQD;
  try {
    if (proc.args.includes('--help') || proc.args.includes('-help') || proc.args.includes('-h')) {
      proc.print(formatHelp('nsqd', NSQD_FLAGS));
      proc.exit(0);
      return undefined;
    }
    const { values } = parseFlags(NSQD_FLAGS, proc.args);
    if (values.version) {
      proc.print(`nsqd v${VERSION} (nsq-ts on ${runtime.name})`);
      proc.exit(0);
      return undefined;
    }
    const opts = buildOptions(values, defaultNodeId(runtime.hostname()));
    const logger = new Logger(opts.logLevel as LogLevel, opts.logPrefix, proc.log);
    nsqd = new NSQD(opts, { runtime, logger });
    await nsqd.start();
  } catch (err) {
    proc.log(`[nsqd] FATAL: ${err instanceof Error ? err.message : String(err)}`);
    proc.exit(1);
    return undefined;
  }
  let stopping = false;
  proc.onShutdownSignal(() => {
    if (stopping) return;
    stopping = true;
    nsqd.close().then(
      () => proc.exit(0),
      (err) => {
        proc.log(`[nsqd] FATAL: shutdown failed: ${String(err)}`);
        proc.exit(1);
      },
    );
  });
  return nsqd;
}
