// What a daemon's command line needs from the process it runs in (each
// adapter's entry point supplies it), and the command line all daemons share.
import { parseConfigFile } from './config/config_file.ts';
import { formatHelp, parseFlags, type FlagSpec, type FlagValues } from './config/flags.ts';
import { ConfigError } from './errors.ts';
import { Logger, type LogFormat, type LogLevel } from './log.ts';

export interface ProcessPort {
  readonly args: readonly string[];
  /** Prints to standard output (--help, --version). */
  print(text: string): void;
  /** Writes one log line to standard error. */
  log(line: string): void;
  /** The whole text (UTF-8) of a file: a --config file. */
  readTextFile(path: string): Promise<string>;
  /** Calls `fn` on SIGINT or SIGTERM. */
  onShutdownSignal(fn: () => void): void;
  exit(code: number): void;
}

/** One daemon's part in runDaemon: its flags, how to build its options, and the daemon itself. */
export interface DaemonSpec<O extends LogOptions, D extends Daemon> {
  readonly name: string;
  readonly version: string;
  readonly flags: readonly FlagSpec[];
  /** Validated options from flag values; `describe` names a flag as the user gave it (flag or config key). */
  buildOptions(values: FlagValues, describe: (flag: string) => string): O;
  create(opts: O, logger: Logger): D;
}

interface LogOptions {
  logLevel: string;
  logPrefix: string;
  logFormat: LogFormat;
}

interface Daemon {
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The command line every daemon shares: Go-style flags, --help, --version,
 * --config (a TOML file under the explicit flags: flag > file > default),
 * start-up, and a clean shutdown on the first SIGINT or SIGTERM, handled from
 * before start-up ends. Returns the started daemon, or undefined after exit.
 */
export async function runDaemon<O extends LogOptions, D extends Daemon>(spec: DaemonSpec<O, D>, runtimeName: string, proc: ProcessPort): Promise<D | undefined> {
  let logger: Logger | undefined;
  try {
    if (proc.args.includes('--help') || proc.args.includes('-help') || proc.args.includes('-h')) {
      proc.print(formatHelp(spec.name, spec.flags));
      proc.exit(0);
      return undefined;
    }
    let parsed: ReturnType<typeof parseFlags>;
    try {
      parsed = parseFlags(spec.flags, proc.args);
    } catch (err) {
      // Go's flag package exits 2 on a command line it cannot parse (its own checks after that exit 1).
      proc.log(`[${spec.name}] FATAL: ${err instanceof Error ? err.message : String(err)}`);
      proc.exit(2);
      return undefined;
    }
    const { values, explicit } = parsed;
    if (values.version) {
      proc.print(`${spec.name} v${spec.version} (nsq-ts on ${runtimeName})`);
      proc.exit(0);
      return undefined;
    }
    const configPath = values.config as string;
    const fromFile = new Map<string, string>();
    let unknownKeys: string[] = [];
    if (configPath !== '') {
      let text: string;
      try {
        text = await proc.readTextFile(configPath);
      } catch (err) {
        throw new ConfigError(`failed to load config file ${configPath} - ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      const file = parseConfigFile(text, spec.flags, configPath);
      for (const [name, value] of Object.entries(file.values)) {
        if (explicit.has(name)) continue;
        values[name] = value;
        fromFile.set(name, file.keys.get(name)!);
      }
      unknownKeys = file.unknown;
    }
    const describe = (flag: string) => (fromFile.has(flag) ? `${fromFile.get(flag)} in ${configPath} (--${flag})` : `--${flag}`);
    const opts = spec.buildOptions(values, describe);
    logger = new Logger(opts.logLevel as LogLevel, opts.logPrefix, proc.log, opts.logFormat);
    for (const key of unknownKeys) logger.warn(`config file ${configPath}: unknown option ${JSON.stringify(key)} ignored`);
    const daemon = spec.create(opts, logger);
    const started = daemon.start();
    onShutdownSignal(proc, spec.name, () => started.then(() => daemon.close()));
    await started;
    return daemon;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (logger !== undefined) logger.log('fatal', msg);
    else proc.log(`[${spec.name}] FATAL: ${msg}`);
    proc.exit(1);
    return undefined;
  }
}

/** On the first SIGINT or SIGTERM: `stop`, then exit 0, or 1 if it failed. */
function onShutdownSignal(proc: ProcessPort, name: string, stop: () => Promise<void>): void {
  let stopping = false;
  proc.onShutdownSignal(() => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => proc.exit(0),
      (err) => {
        proc.log(`[${name}] FATAL: shutdown failed: ${String(err)}`);
        proc.exit(1);
      },
    );
  });
}
