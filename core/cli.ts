// What a daemon's command line needs from the process it runs in; each
// adapter's entry point supplies it, and the rest of the CLI is shared.
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
