// nsqd (NSQ's nsqd/nsqd.go): owns the topics, the clients, the queue scanner
// and the TCP listener. A runtime adapter supplies the sockets.
import { DiskQueue } from '../diskqueue/diskqueue.ts';
import { createNsqdApp } from '../http/nsqd_http.ts';
import { Logger, silentLogger } from '../log.ts';
import type { Connection, Listener, Runtime } from '../ports.ts';
import { MemoryBackendQueue, type BackendQueue } from './backend_queue.ts';
import type { Channel } from './channel.ts';
import { ClientV2 } from './client_v2.ts';
import { NsqdLookup } from './lookup.ts';
import { MSG_HEADER_LENGTH } from './message.ts';
import { encodeMetadata, MetadataFile } from './metadata.ts';
import { defaultOptions, VERSION, type NsqdOptions } from './options.ts';
import { QueueScanner } from './queue_scanner.ts';
import { handleConnection } from './tcp.ts';
import { Topic, type TopicHooks } from './topic.ts';

export interface NsqdDeps {
  runtime: Runtime;
  logger?: Logger;
  /** Backend for non-ephemeral topics and channels; default: a DiskQueue when the runtime has Storage, else memory. */
  newBackend?: (name: string) => BackendQueue;
}

export class NSQD {
  readonly opts: NsqdOptions;
  readonly runtime: Runtime;
  readonly logger: Logger;
  /** Start time in ms (Date.now()), and in whole seconds as /stats shows it. */
  readonly startedAt: number = Date.now();
  readonly startTime: number = Math.floor(this.startedAt / 1000);
  readonly scanner: QueueScanner;
  private readonly topics = new Map<string, Topic>();
  private readonly clients = new Map<number, ClientV2>();
  private readonly topicHooks: TopicHooks;
  private nextClientId = 0;
  private tcpListener: Listener | undefined;
  private httpListener: Listener | undefined;
  private health = 'OK';
  private exiting = false;
  // Data path: lock, nsqd.dat, the --durable group commit and disk backlogs (see settlePublish()).
  private metadata: MetadataFile | undefined;
  private dataLock: { release(): Promise<void> } | undefined;
  private loading = false;
  private readonly unsynced = new Set<DiskQueue>();
  private readonly backlogged = new Set<DiskQueue>();

  constructor(opts: Partial<NsqdOptions> | NsqdOptions, deps: NsqdDeps) {
    this.opts = { ...defaultOptions(), ...opts };
    this.runtime = deps.runtime;
    this.logger = deps.logger ?? silentLogger;
    if (this.opts.broadcastAddress === '') this.opts.broadcastAddress = this.runtime.hostname();
    const newBackend = deps.newBackend ?? (this.runtime.storage ? (name: string) => this.newDiskQueue(name) : () => new MemoryBackendQueue());
    this.topicHooks = {
      nodeId: this.opts.nodeId,
      memQueueSize: this.opts.memQueueSize,
      maxMsgTimeout: this.opts.maxMsgTimeout,
      maxChannelConsumers: this.opts.maxChannelConsumers,
      newBackend,
      onBackendError: (err) => this.setHealth(err),
      onEphemeralTopicEmpty: (topic) => void this.deleteExistingTopic(topic.name),
      onChannelChange: (ch, created) => (created ? this.lookup.register(ch.topicName, ch.name) : this.lookup.unregister(ch.topicName, ch.name)),
      e2eProcessingLatencyPercentiles: this.opts.e2eProcessingLatencyPercentile,
      e2eProcessingLatencyWindowTime: this.opts.e2eProcessingLatencyWindowTime,
      onMetadataChange: () => void this.persistMetadata(),
      durable: this.opts.durable,
    };
    this.scanner = new QueueScanner(this.opts, () => this.channels());
    this.lookup = new NsqdLookup(this, this.opts.lookupdPingInterval);
  }

  /** The lookup loop: one peer per --lookupd-tcp-address (lookup.ts). */
  readonly lookup: NsqdLookup;

  /** Changes the nsqlookupd TCP addresses while running (PUT /config/nsqlookupd_tcp_addresses). */
  setLookupdTcpAddresses(addresses: string[]): void {
    this.opts.lookupdTcpAddress = addresses;
    this.lookup.setAddresses(addresses);
  }

  /** The TCP address actually bound (port 0 resolves to the chosen port). */
  get tcpAddress(): { host: string; port: number } {
    if (!this.tcpListener) throw new Error('nsqd is not listening');
    return this.tcpListener.address;
  }

  /** The HTTP port actually bound; -1 for a Unix socket or when HTTP is off (--http-address ""). */
  get httpPort(): number {
    return this.httpListener?.address.port ?? -1;
  }

  async start(): Promise<void> {
    const serve = this.runtime.serve;
    if (this.opts.httpAddress !== '' && serve === undefined) {
      throw new Error(`--http-address=${this.opts.httpAddress}: the ${this.runtime.name} runtime adapter has no HTTP server (Runtime.serve); set --http-address="" to run without HTTP`);
    }
    await this.loadData();
    this.tcpListener = await this.runtime.net.listen(parseAddress(this.opts.tcpAddress), (conn) => this.accept(conn));
    // HTTP is bound before either is announced, as Go nsqd does.
    if (serve !== undefined && this.opts.httpAddress !== '') {
      try {
        this.httpListener = await serve(createNsqdApp(this).fetch, parseAddress(this.opts.httpAddress), (err) => this.logger.error(`HTTP: handler error: ${String(err)}`));
      } catch (err) {
        await this.tcpListener.close();
        throw err;
      }
    }
    this.logger.info(`TCP: listening on ${formatAddress(this.tcpListener.address)}`);
    if (this.httpListener) this.logger.info(`HTTP: listening on ${formatAddress(this.httpListener.address)}`);
    this.scanner.start();
    this.lookup.start();
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
      if (!topic.ephemeral) void this.persistMetadata();
      this.lookup.topicCreated(topic);
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
    if (!topic.ephemeral) void this.persistMetadata();
    this.lookup.unregister(name);
    return true;
  }

  channels(): Channel[] {
    const out: Channel[] = [];
    for (const t of this.topics.values()) out.push(...t.channelsSnapshot());
    return out;
  }

  // ---- data path: disk queues, nsqd.dat, lock, --durable

  /** The data path as a folder ('' is the working folder). */
  private get dataPath(): string {
    return this.opts.dataPath === '' ? '.' : this.opts.dataPath.replace(/\/+$/, '') || '/';
  }

  private newDiskQueue(name: string): DiskQueue {
    const storage = this.runtime.storage!;
    const isTopic = !name.includes(':');
    const queue: DiskQueue = new DiskQueue({
      name,
      dataPath: this.dataPath,
      storage,
      maxBytesPerFile: this.opts.maxBytesPerFile,
      minMsgSize: MSG_HEADER_LENGTH,
      maxMsgSize: this.opts.maxMsgSize + MSG_HEADER_LENGTH,
      syncEvery: this.opts.syncEvery,
      syncTimeout: this.opts.syncTimeout,
      logger: this.logger,
      onError: (err) => this.setHealth(err),
      onRecovered: () => {
        this.health = 'OK';
      },
      // A topic's read position reaches disk only after the channels that received those records synced.
      beforeMetaSync: isTopic ? () => this.syncChannelsOf(name) : undefined,
      onPut: isTopic && this.opts.durable ? (q) => this.unsynced.add(q) : undefined,
      onBacklog: (q) => this.backlogged.add(q),
    });
    return queue;
  }

  private async syncChannelsOf(topicName: string): Promise<void> {
    const topic = this.topics.get(topicName);
    if (topic === undefined) return;
    await Promise.all(topic.channelsSnapshot().map((c) => c.backend.sync()));
  }

  /**
   * What a publisher waits for before its OK (protocol_v2 after a chunk
   * that published, HTTP /pub and /mpub), undefined when nothing:
   * - --durable group commit: every message put into a topic disk queue so
   *   far is fsynced; publishers whose messages land while an fsync runs
   *   share the next one;
   * - disk backlog: disk queues whose write batch went past its bound have
   *   handed it to storage. The disk is one resource, so any backlogged
   *   queue holds every publisher for that moment, which keeps memory
   *   bounded when messages arrive faster than the disk takes them.
   */
  settlePublish(): Promise<void> | undefined {
    if (this.unsynced.size === 0 && this.backlogged.size === 0) return undefined;
    const waits: Promise<void>[] = [];
    for (const q of this.unsynced) waits.push(q.sync());
    this.unsynced.clear();
    for (const q of this.backlogged) {
      const drained = q.drained();
      if (drained === undefined) this.backlogged.delete(q); // no longer backlogged
      else waits.push(drained);
    }
    return waits.length === 0 ? undefined : Promise.all(waits).then(() => {});
  }

  /** Lock the data path, recreate the topics and channels of nsqd.dat, wait for their queues to open. */
  private async loadData(): Promise<void> {
    const storage = this.runtime.storage;
    if (storage === undefined) return;
    const dir = this.dataPath;
    await storage.mkdir(dir);
    const lock = await storage.lock(dir);
    this.dataLock = lock;
    if (lock.warning) this.logger.warn(`NSQ: ${lock.warning}`);
    this.metadata = new MetadataFile(storage, dir, this.logger, () => this.metadataSnapshot());
    try {
      this.loading = true;
      const topics = await this.metadata.load();
      for (const t of topics) {
        const topic = this.getTopic(t.name);
        if (t.paused) topic.pause();
        for (const c of t.channels) {
          const ch = topic.getChannel(c.name);
          if (c.paused) ch.pause();
        }
      }
      const opening: Promise<void>[] = [];
      for (const topic of this.topics.values()) {
        opening.push((topic.backend as Partial<DiskQueue>).opened ?? Promise.resolve());
        for (const ch of topic.channelsSnapshot()) opening.push((ch.backend as Partial<DiskQueue>).opened ?? Promise.resolve());
      }
      await Promise.all(opening);
    } catch (err) {
      await lock.release();
      this.dataLock = undefined;
      throw err;
    } finally {
      this.loading = false;
    }
    await this.persistMetadata();
  }

  private metadataSnapshot(): string {
    const topics = [...this.topics.values()].map((t) => ({
      name: t.name,
      paused: t.paused,
      channels: t.channelsSnapshot().map((c) => ({ name: c.name, paused: c.paused })),
    }));
    return encodeMetadata(topics, VERSION);
  }

  /** Writes nsqd.dat (coalesced); nothing while loading it, nor without Storage. */
  persistMetadata(): Promise<void> {
    if (this.metadata === undefined || this.loading) return Promise.resolve();
    return this.metadata.persist();
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
    this.lookup.close();
    await this.tcpListener?.close();
    await this.httpListener?.close();
    for (const c of this.clients.values()) c.close();
    await this.scanner.stop();
    await this.persistMetadata();
    await Promise.all([...this.topics.values()].map((t) => t.close()));
    await this.dataLock?.release();
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
