// nsqlookupd (NSQ's nsqlookupd/nsqlookupd.go): the registration database, the
// TCP listener for nsqd (protocol V1) and the HTTP API for consumers and
// tools. All state is in memory. A runtime adapter supplies sockets and HTTP.
import { createLookupdApp } from '../http/lookupd_http.ts';
import { Logger, silentLogger } from '../log.ts';
import { formatAddress, parseAddress } from '../nsqd/nsqd.ts';
import type { Connection, Listener, Runtime } from '../ports.ts';
import type { LookupContext } from './lookup_protocol_v1.ts';
import { defaultLookupdOptions, VERSION, type LookupdOptions } from './options.ts';
import { RegistrationDB } from './registration_db.ts';
import { handleLookupConnection } from './tcp.ts';

export interface LookupdDeps {
  runtime: Runtime;
  logger?: Logger;
}

export class NSQLookupd implements LookupContext {
  readonly opts: LookupdOptions;
  readonly runtime: Runtime;
  readonly logger: Logger;
  readonly db: RegistrationDB = new RegistrationDB();
  private tcpListener: Listener | undefined;
  private httpListener: Listener | undefined;
  private readonly conns = new Set<Connection>();
  private identifyReply = '';
  private exiting = false;

  constructor(opts: Partial<LookupdOptions>, deps: LookupdDeps) {
    this.opts = { ...defaultLookupdOptions(), ...opts };
    this.runtime = deps.runtime;
    this.logger = deps.logger ?? silentLogger;
    if (this.opts.broadcastAddress === '') this.opts.broadcastAddress = this.runtime.hostname();
  }

  /** The TCP address actually bound (port 0 resolves to the chosen port). */
  get tcpAddress(): { host: string; port: number } {
    if (!this.tcpListener) throw new Error('nsqlookupd is not listening');
    return this.tcpListener.address;
  }

  /** The HTTP address actually bound. */
  get httpAddress(): { host: string; port: number } {
    if (!this.httpListener) throw new Error('nsqlookupd is not listening');
    return this.httpListener.address;
  }

  async start(): Promise<void> {
    const serve = this.runtime.serve;
    if (serve === undefined) throw new Error(`the ${this.runtime.name} runtime adapter has no HTTP server (Runtime.serve)`);
    this.tcpListener = await this.runtime.net.listen(parseAddress(this.opts.tcpAddress), (conn) => this.accept(conn));
    try {
      this.httpListener = await serve(createLookupdApp(this).fetch, parseAddress(this.opts.httpAddress), (err) => this.logger.error(`HTTP: handler error: ${String(err)}`));
    } catch (err) {
      await this.tcpListener.close();
      throw err;
    }
    this.identifyReply = JSON.stringify({
      broadcast_address: this.opts.broadcastAddress,
      hostname: this.runtime.hostname(),
      http_port: this.httpListener.address.port,
      tcp_port: this.tcpListener.address.port,
      version: VERSION,
    });
    this.logger.info(`TCP: listening on ${formatAddress(this.tcpListener.address)}`);
    this.logger.info(`HTTP: listening on ${formatAddress(this.httpListener.address)}`);
  }

  /** The IDENTIFY reply (Go map: keys sorted). */
  identifyResponse(): string {
    return this.identifyReply;
  }

  private accept(conn: Connection): void {
    if (this.exiting) return conn.close();
    this.conns.add(conn);
    handleLookupConnection(this, conn)
      .catch((err) => this.logger.error('connection failed', { error: String(err) }))
      .finally(() => this.conns.delete(conn));
  }

  async close(): Promise<void> {
    if (this.exiting) return;
    this.exiting = true;
    await this.tcpListener?.close();
    for (const c of this.conns) c.close();
    await this.httpListener?.close();
    this.logger.info('exited');
  }
}
