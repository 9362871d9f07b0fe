// nsqd (NSQ's nsqd/nsqd.go): owns the topics, the clients, the queue scanner
// and the TCP listener. A runtime adapter supplies the sockets.
import { Logger, silentLogger } from '../log.ts';
import type { Connection, Listener, Runtime } from '../ports.ts';
import { MemoryBackendQueue, type BackendQueue } from './backend_queue.ts';
import type { Channel } from './channel.ts';
import { ClientV2 } from './client_v2.ts';
import { defaultOptions, type NsqdOptions } from './options.ts';
import { QueueScanner } from './queue_scanner.ts';
import { handleConnection } from './tcp.ts';
import { Topic, type TopicHooks } from './topic.ts';

export interface NsqdDeps {
  runtime: Runtime;
  logger?: Logger;
  /** Backend for durable topics and channels (until the disk queue, memory). */
  newBackend?: (name: string) => BackendQueue;
}

export class NSQD {
  readonly opts: NsqdOptions;
  readonly runtime: Runtime;
  readonly logger: Logger;
  readonly startTime = Math.floor(Date.now() / 1000);
  readonly scanner: QueueScanner;
  private readonly topics = new Map<string, Topic>();
  private readonly clients = new Map<number, ClientV2>();
  private readonly topicHooks: TopicHooks;
  private nextClientId = 0;
  private tcpListener: Listener | undefined;
  private health = 'OK';
  private exiting = false;

  constructor(opts: Partial<NsqdOptions> | NsqdOptions, deps: NsqdDeps) {
    this.opts = { ...defaultOptions(), ...opts };
    this.runtime = deps.runtime;
    this.logger = deps.logger ?? silentLogger;
    const newBackend = deps.newBackend ?? (() => new MemoryBackendQueue());
    this.topicHooks = {
      nodeId: this.opts.nodeId,
      memQueueSize: this.opts.memQueueSize,
      maxMsgTimeout: this.opts.maxMsgTimeout,
      maxChannelConsumers: this.opts.maxChannelConsumers,
      newBackend,
      onBackendError: (err) => this.setHealth(err),
      onEphemeralEmpty: () => {},
      onEphemeralTopicEmpty: (topic) => void this.deleteExistingTopic(topic.name),
    };
    this.scanner = new QueueScanner(this.opts, () => this.channels());
  }

  /** The TCP address actually bound (port 0 resolves to the chosen port). */
  get tcpAddress(): { host: string; port: number } {
    if (!this.tcpListener) throw new Error('nsqd is not listening');
    return this.tcpListener.address;
  }

  async start(): Promise<void> {
    this.tcpListener = await this.runtime.net.listen(parseAddress(this.opts.tcpAddress), (conn) => this.accept(conn));
    this.logger.info(`TCP: listening on ${formatAddress(this.tcpListener.address)}`);
    this.scanner.start();
  }

  private accept(conn: Connection): void {
    if (this.exiting) return conn.close();
    handleConnection(this, conn).catch((err) => this.logger.error('connection failed', { error: String(err) }));
  }

  addClient(conn: Connection): ClientV2 {
    const client = new ClientV2(++this.nextClientId, conn, this.opts);
    this.clients.set(client.id, client);
    this.logger.debug(`TCP: new client(${conn.remoteAddress})`);
    return client;
  }

  removeClient(client: ClientV2): void {
    this.clients.delete(client.id);
  }

  clientList(): ClientV2[] {
    return [...this.clients.values()];
  }

  // ---- topics

  getTopic(name: string): Topic {
    let topic = this.topics.get(name);
    if (topic === undefined) {
      topic = new Topic(name, this.topicHooks);
      this.topics.set(name, topic);
      this.logger.info(`TOPIC(${name}): created`);
    }
    return topic;
  }

  getExistingTopic(name: string): Topic | undefined {
    return this.topics.get(name);
  }

  topicList(): Topic[] {
    return [...this.topics.values()];
  }

  async deleteExistingTopic(name: string): Promise<boolean> {
    const topic = this.topics.get(name);
    if (topic === undefined) return false;
    this.topics.delete(name);
    await topic.delete();
    this.logger.info(`TOPIC(${name}): deleted`);
    return true;
  }

  channels(): Channel[] {
    const out: Channel[] = [];
    for (const t of this.topics.values()) out.push(...t.channelsSnapshot());
    return out;
  }

  // ---- health

  private setHealth(err: unknown): void {
    this.health = `NOK - ${err instanceof Error ? err.message : String(err)}`;
    this.logger.error('backend write failed', { error: String(err) });
  }

  getHealth(): string {
    return this.health;
  }

  isHealthy(): boolean {
    return this.health === 'OK';
  }

  /** Graceful shutdown: stop accepting, close clients, write out what is held in memory. */
  async close(): Promise<void> {
    if (this.exiting) return;
    this.exiting = true;
    await this.tcpListener?.close();
    for (const c of this.clients.values()) c.close();
    await this.scanner.stop();
    await Promise.all([...this.topics.values()].map((t) => t.close()));
    this.logger.info('exited');
  }
}

/** "host:port" (also "[::1]:4150" and ":4150") or a Unix socket path. */
export function parseAddress(text: string): { host: string; port: number } | { path: string } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(text);
  if (!m) return { path: text };
  return { host: m[1] === '' ? '0.0.0.0' : m[1]!, port: Number(m[2]) };
}

export function formatAddress(a: { host: string; port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
