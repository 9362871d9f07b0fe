// The few pieces of Bun's socket API this adapter uses, typed locally so the
// project's tsc (Node types only) can check the adapter without bun-types.

export interface BunSocket<T> {
  data: T;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  /** Bytes accepted (possibly fewer than given), -1 once closed. */
  write(data: Uint8Array): number;
  /** No argument: send FIN and keep reading. */
  shutdown(): void;
  /** Close both directions immediately; fires the close handler. */
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(on: boolean): boolean;
}

export interface BunSocketHandler<T> {
  binaryType: 'uint8array';
  open(s: BunSocket<T>): void;
  data(s: BunSocket<T>, chunk: Uint8Array): void;
  drain(s: BunSocket<T>): void;
  end(s: BunSocket<T>): void;
  close(s: BunSocket<T>, err?: Error): void;
  error(s: BunSocket<T>, err: Error): void;
  connectError?(s: BunSocket<T>, err: Error): void;
}

export type BunSocketOptions<T> = ({ hostname: string; port: number } | { unix: string }) & {
  allowHalfOpen: boolean;
  socket: BunSocketHandler<T>;
};

export interface BunListener {
  readonly hostname?: string;
  readonly port?: number;
  readonly unix?: string;
  stop(closeActiveConnections?: boolean): void;
}

export interface BunApi {
  listen<T>(options: BunSocketOptions<T>): BunListener;
  connect<T>(options: BunSocketOptions<T>): Promise<BunSocket<T>>;
}

export const bun = (globalThis as unknown as { Bun: BunApi }).Bun;
