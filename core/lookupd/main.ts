// The nsqlookupd command line, shared by every runtime's entry point:
// Go-style flags, --config, --help and --version, start-up, and a clean
// shutdown on SIGINT or SIGTERM.
import type { ProcessPort } from '../cli.ts';
import { parseConfigFile } from '../config/config_file.ts';
import { formatHelp, parseFlags } from '../config/flags.ts';
import { ConfigError } from '../errors.ts';
import { Logger, type LogLevel } from '../log.ts';
import type { Runtime } from '../ports.ts';
import { NSQLookupd } from './lookupd.ts';
import { buildLookupdOptions, LOOKUPD_FLAGS, VERSION } from './options.ts';

export async function nsqlookupdMain(runtime: Runtime, proc: ProcessPort): Promise<NSQLookupd | undefined> {
  let lookupd: NSQLookupd;
  let logger: Logger | undefined;
  try {
    if (proc.args.includes('--help') || proc.args.includes('-help') || proc.args.includes('-h')) {
      proc.print(formatHelp('nsqlookupd', LOOKUPD_FLAGS));
      proc.exit(0);
      return undefined;
    }
    const { values, explicit } = parseFlags(LOOKUPD_FLAGS, proc.args);
    if (values.version) {
      proc.print(`nsqlookupd v${VERSION} (nsq-ts on ${runtime.name})`);
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
      const file = parseConfigFile(text, LOOKUPD_FLAGS, configPath);
      for (const [name, value] of Object.entries(file.values)) {
        if (explicit.has(name)) continue;
        values[name] = value;
        fromFile.set(name, file.keys.get(name)!);
      }
      unknownKeys = file.unknown;
    }
    const describe = (flag: string) => (fromFile.has(flag) ? `${fromFile.get(flag)} in ${configPath} (--${flag})` : `--${flag}`);
    const opts = buildLookupdOptions(values, {}, describe);
    logger = new Logger(opts.logLevel as LogLevel, opts.logPrefix, proc.log, opts.logFormat);
    for (const key of unknownKeys) logger.warn(`config file ${configPath}: unknown option ${JSON.stringify(key)} ignored`);
    logger.info(`nsqlookupd v${VERSION} (nsq-ts on ${runtime.name})`);
    lookupd = new NSQLookupd(opts, { runtime, logger });
    // A signal during start-up stops the daemon once it has started.
    const started = lookupd.start();
    onSignal(proc, () => started.then(() => lookupd.close(), () => {}));
    await started;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (logger !== undefined) logger.log('fatal', msg);
    else proc.log(`[nsqlookupd] FATAL: ${msg}`);
    proc.exit(1);
    return undefined;
  }
  return lookupd;
}

/** On SIGINT or SIGTERM (the first one): `stop`, then exit 0, or 1 if it failed. */
function onSignal(proc: ProcessPort, stop: () => Promise<void>): void {
  let stopping = false;
  proc.onShutdownSignal(() => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => proc.exit(0),
      (err) => {
        proc.log(`[nsqlookupd] FATAL: shutdown failed: ${String(err)}`);
        proc.exit(1);
      },
    );
  });
}
