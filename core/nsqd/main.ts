// The nsqd command line, shared by every runtime's entry point: Go-style
// flags, --help and --version, start-up, and a clean shutdown on SIGINT or
// SIGTERM.
import type { ProcessPort } from '../cli.ts';
import { parseConfigFile } from '../config/config_file.ts';
import { formatHelp, parseFlags } from '../config/flags.ts';
import { ConfigError } from '../errors.ts';
import { Logger, type LogLevel } from '../log.ts';
import type { Runtime } from '../ports.ts';
import { defaultNodeId } from './node_id.ts';
import { NSQD } from './nsqd.ts';
import { buildOptions, NSQD_FLAGS, VERSION } from './options.ts';

export async function nsqdMain(runtime: Runtime, proc: ProcessPort): Promise<NSQD | undefined> {
  let nsqd: NSQD;
  let logger: Logger | undefined;
  try {
    if (proc.args.includes('--help') || proc.args.includes('-help') || proc.args.includes('-h')) {
      proc.print(formatHelp('nsqd', NSQD_FLAGS));
      proc.exit(0);
      return undefined;
    }
    const { values, explicit } = parseFlags(NSQD_FLAGS, proc.args);
    if (values.version) {
      proc.print(`nsqd v${VERSION} (nsq-ts on ${runtime.name})`);
      proc.exit(0);
      return undefined;
    }
    // --config: a TOML file under the explicit flags (flag > file > default).
    const configPath = values.config as string;
    const fromFile = new Map<string, string>();
    let unknownKeys: string[] = [];
    if (configPath !== '') {
      let text: string;
      try {
        text = await proc.readTextFile(configPath);
      } catch (err) {
        throw new ConfigError(`failed to load config file ${configPath} - ${err instanceof Error ? err.message : String(err)}`);
      }
      const file = parseConfigFile(text, NSQD_FLAGS, configPath);
      for (const [name, value] of Object.entries(file.values)) {
        if (explicit.has(name)) continue;
        values[name] = value;
        fromFile.set(name, file.keys.get(name)!);
      }
      unknownKeys = file.unknown;
    }
    const describe = (flag: string) => (fromFile.has(flag) ? `${fromFile.get(flag)} in ${configPath} (--${flag})` : `--${flag}`);
    const opts = buildOptions(values, defaultNodeId(runtime.hostname()), {}, describe);
    logger = new Logger(opts.logLevel as LogLevel, opts.logPrefix, proc.log, opts.logFormat);
    for (const key of unknownKeys) logger.warn(`config file ${configPath}: unknown option ${JSON.stringify(key)} ignored`);
    nsqd = new NSQD(opts, { runtime, logger });
    // Signals are handled from before start-up ends: a SIGTERM during it shuts down cleanly once it is done.
    const started = nsqd.start();
    onSignal(proc, nsqd, started);
    await started;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (logger !== undefined) logger.log('fatal', msg);
    else proc.log(`[nsqd] FATAL: ${msg}`);
    proc.exit(1);
    return undefined;
  }
  return nsqd;
}

function onSignal(proc: ProcessPort, nsqd: NSQD, started: Promise<void>): void {
  let stopping = false;
  proc.onShutdownSignal(() => {
    if (stopping) return;
    stopping = true;
    started.then(() => nsqd.close()).then(
      () => proc.exit(0),
      (err) => {
        proc.log(`[nsqd] FATAL: shutdown failed: ${String(err)}`);
        proc.exit(1);
      },
    );
  });
}
