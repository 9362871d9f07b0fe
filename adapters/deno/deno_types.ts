// The few pieces of the Deno namespace this adapter uses, typed locally so the
// project's tsc (Node types only) can check it. Read through globalThis rather
// than `declare const Deno`, which would clash with Deno's own types under
// `deno check`.

export type DenoAddr =
  | { transport: 'tcp'; hostname: string; port: number }
  | { transport: 'unix'; path: string };

export interface DenoConn {
  readonly remoteAddr: DenoAddr;
  /** Bytes read into p, or null at EOF. */
  read(p: Uint8Array): Promise<number | null>;
  /** Bytes written, possibly fewer than p.byteLength. */
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  /** TCP connections only. */
  setNoDelay?(noDelay?: boolean): void;
}

export interface DenoListener {
  readonly addr: DenoAddr;
  accept(): Promise<DenoConn>;
  close(): void;
}

export type DenoConnectOptions =
  | { transport?: 'tcp'; hostname: string; port: number }
  | { transport: 'unix'; path: string };

/** Deno.FsFile: a cursor-based file (no positional read/write, hence the seek). */
export interface DenoFsFile {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  seek(offset: number, whence: 0 | 1 | 2): Promise<number>;
  sync(): Promise<void>;
  stat(): Promise<{ size: number }>;
  tryLock(exclusive?: boolean): Promise<boolean>;
  close(): void;
}

export interface DenoOpenOptions {
  read?: boolean;
  write?: boolean;
  create?: boolean;
  createNew?: boolean;
  truncate?: boolean;
  mode?: number;
}

export interface DenoApi {
  open(path: string, options?: DenoOpenOptions): Promise<DenoFsFile>;
  readFile(path: string): Promise<Uint8Array>;
  readTextFile(path: string): Promise<string>;
  stat(path: string): Promise<{ size: number }>;
  rename(from: string, to: string): Promise<void>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  readDir(path: string): AsyncIterable<{ name: string }>;
  readonly pid: number;
  readonly errors: { NotFound: new (...args: never[]) => Error; AlreadyExists: new (...args: never[]) => Error };
  listen(options: DenoConnectOptions): DenoListener;
  connect(options: DenoConnectOptions): Promise<DenoConn>;
  hostname(): string;
  remove(path: string): Promise<void>;
  readonly args: string[];
  exit(code: number): never;
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
  readonly stdout: { writeSync(p: Uint8Array): number };
  readonly stderr: { writeSync(p: Uint8Array): number };
}

export const deno = (globalThis as unknown as { Deno: DenoApi }).Deno;
