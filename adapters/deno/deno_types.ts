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

export interface DenoApi {
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
