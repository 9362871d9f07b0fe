// The part of nsqjs 0.13 (CommonJS, untyped) that the interop tests use.
declare module 'nsqjs' {
  import type { EventEmitter } from 'node:events';

  export interface ConnectionOptions {
    clientId?: string;
    heartbeatInterval?: number;
    maxInFlight?: number;
    /** Sent as IDENTIFY msg_timeout (ms). */
    messageTimeout?: number;
    outputBufferSize?: number;
    outputBufferTimeout?: number;
    requeueDelay?: number;
    sampleRate?: number;
    idleTimeout?: number;
  }

  export interface ReaderOptions extends ConnectionOptions {
    nsqdTCPAddresses?: string | string[];
    lookupdHTTPAddresses?: string | string[];
    lookupdPollInterval?: number;
    lowRdyTimeout?: number;
    maxAttempts?: number;
    maxBackoffDuration?: number;
  }

  export class Message extends EventEmitter {
    readonly id: string;
    readonly timestamp: bigint;
    readonly attempts: number;
    readonly body: Buffer;
    hasResponded: boolean;
    finish(): void;
    requeue(delayMs?: number, backoff?: boolean): void;
    touch(): void;
  }

  /** One nsqd connection of a Reader (internal, read for diagnostics). */
  export interface NSQDConnection extends EventEmitter {
    msgTimeout: number;
    maxMsgTimeout: number;
    maxRdyCount: number;
    nsqdVersion: string | null;
  }

  export class Reader extends EventEmitter {
    constructor(topic: string, channel: string, options: ReaderOptions);
    readonly topic: string;
    readonly channel: string;
    connectionIds: string[];
    readerRdy: { connections: { conn: NSQDConnection }[] };
    connect(): void;
    close(): void;
  }

  export class Writer extends EventEmitter {
    constructor(host: string, port: number, options?: ConnectionOptions);
    ready: boolean;
    connect(): void;
    publish(topic: string, msgs: string | Buffer | (string | Buffer)[], callback?: (err?: Error | null) => void): void;
    deferPublish(topic: string, msg: string | Buffer, timeMs: number, callback?: (err?: Error | null) => void): void;
    close(): void;
  }

  const nsq: { Reader: typeof Reader; Writer: typeof Writer; Message: typeof Message };
  export default nsq;
}
