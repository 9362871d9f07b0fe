// nsqlookupd in-process on 127.0.0.1 with kernel-chosen ports, on the runtime
// running the tests, and a raw V1 client (unframed [size][data] replies)
// built on the V2 test client's byte reader.
import { Logger, silentLogger } from '../../core/log.ts';
import { NSQLookupd } from '../../core/lookupd/lookupd.ts';
import type { LookupdOptions } from '../../core/lookupd/options.ts';
import { runtime } from './runtime.ts';
import { bytes, int32, WireClient } from './wire.ts';

export interface TestLookupd {
  lookupd: NSQLookupd;
  tcpPort: number;
  httpPort: number;
  /** "127.0.0.1:<tcp port>", for --lookupd-tcp-address. */
  tcpAddress: string;
  /** "http://127.0.0.1:<http port>". */
  url: string;
  close(): Promise<void>;
}

const testLogLevel = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.NSQ_TEST_LOG;

export async function startLookupd(opts: Partial<LookupdOptions> = {}): Promise<TestLookupd> {
  const logger = testLogLevel ? new Logger(testLogLevel as 'debug', '[nsqlookupd] ') : silentLogger;
  const lookupd = new NSQLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', broadcastAddress: '127.0.0.1', ...opts }, { runtime, logger });
  await lookupd.start();
  const tcpPort = lookupd.tcpAddress.port;
  const httpPort = lookupd.httpAddress.port;
  return {
    lookupd,
    tcpPort,
    httpPort,
    tcpAddress: `127.0.0.1:${tcpPort}`,
    url: `http://127.0.0.1:${httpPort}`,
    close: () => lookupd.close(),
  };
}

const dec = new TextDecoder();

/** A V1 client: sends the magic "  V1" and reads [int32 size][data] replies. */
export class V1Client {
  readonly wire: WireClient;

  private constructor(wire: WireClient) {
    this.wire = wire;
  }

  static async connect(port: number, opts: { magic?: boolean } = {}): Promise<V1Client> {
    const wire = await WireClient.connect(port, { magic: false });
    if (opts.magic !== false) wire.write('  V1');
    return new V1Client(wire);
  }

  write(data: string | Uint8Array): void {
    this.wire.write(data);
  }

  /** The next reply's data as text; throws if none arrives in `ms`. */
  async read(ms = 2000): Promise<string> {
    const head = await this.wire.readBytes(4, ms);
    const size = new DataView(head.buffer, head.byteOffset, 4).getInt32(0);
    return dec.decode(await this.wire.readBytes(size, ms));
  }

  async expect(text: string, ms = 2000): Promise<void> {
    const got = await this.read(ms);
    if (got !== text) throw new Error(`expected ${JSON.stringify(text)}, got ${JSON.stringify(got)}`);
  }

  /** IDENTIFY with `body` (an object is sent as JSON) and return the reply. */
  async identify(body: Record<string, unknown> | string): Promise<string> {
    this.write(identifyCommand(body));
    return this.read();
  }

  async command(line: string): Promise<string> {
    this.write(`${line}\n`);
    return this.read();
  }

  expectClose(ms = 2000): Promise<void> {
    return this.wire.expectClose(ms);
  }

  destroy(): void {
    this.wire.destroy();
  }
}

export function identifyCommand(body: Record<string, unknown> | string): Uint8Array {
  const b = new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body));
  return bytes('IDENTIFY\n', int32(b.length), b);
}

/** A valid nsqd IDENTIFY body. */
export function peer(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { broadcast_address: '10.0.0.5', hostname: 'nsqd-host-1', http_port: 4151, tcp_port: 4150, topology_region: '', topology_zone: '', version: '1.3.0', ...overrides };
}

/** GET/POST on a lookupd or nsqd HTTP API, with NSQ's Accept header; body text and the response. */
export async function http(url: string, method = 'GET', body?: string): Promise<{ status: number; text: string; json: () => unknown; headers: Headers }> {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), 5000);
  try {
    const res = await fetch(url, { method, body, headers: { Accept: 'application/vnd.nsq; version=1.0' }, signal: ctrl.signal, redirect: 'manual' });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text), headers: res.headers };
  } finally {
    clearTimeout(timer);
  }
}
