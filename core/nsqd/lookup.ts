// nsqd's lookup loop (NSQ's nsqd/lookup.go; PROTOCOL.md 6.5 and 3.9): one
// LookupPeer per --lookupd-tcp-address. Each (re)connection IDENTIFYs with
// the broadcast address and ports and REGISTERs every topic and channel;
// topic and channel creations and deletions become REGISTER and UNREGISTER on
// every peer; every peer is PINGed every 15 s; PUT
// /config/nsqlookupd_tcp_addresses swaps peers while running. A topic
// created while lookupds are connected first gets the channels they know
// (channel pre-creation).
import type { Logger } from '../log.ts';
import type { Runtime } from '../ports.ts';
import { LookupPeer, type LookupPeerTiming } from './lookup_peer.ts';
import { VERSION, type NsqdOptions } from './options.ts';

/** What the loop needs from nsqd. */
export interface LookupHost {
  readonly opts: NsqdOptions;
  readonly runtime: Runtime;
  readonly logger: Logger;
  readonly tcpAddress: { host: string; port: number };
  readonly httpPort: number;
  topicList(): readonly { readonly name: string; channelsSnapshot(): readonly { readonly name: string }[] }[];
}

/** What topicCreated() needs of a topic. */
export interface CreatedTopic {
  readonly name: string;
  readonly exiting: boolean;
  hold(): void;
  start(): void;
  getChannel(name: string): unknown;
}

export const LOOKUPD_PING_INTERVAL = 15_000;

export class NsqdLookup {
  private readonly host: LookupHost;
  private readonly peers = new Map<string, LookupPeer>();
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private started = false;
  private closed = false;
  /** Aborts the channel queries under way when nsqd closes. */
  private readonly closing = new AbortController();
  /** PING interval (ms); tests shorten it. */
  pingInterval: number;
  /** Dial, reply and backoff timing of new peers. */
  timing: Partial<LookupPeerTiming> = {};

  constructor(host: LookupHost, pingInterval = LOOKUPD_PING_INTERVAL) {
    this.host = host;
    this.pingInterval = pingInterval;
  }

  /** Starts the peers of --lookupd-tcp-address and the PING ticker (once nsqd listens: the ports are announced). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.setAddresses(this.host.opts.lookupdTcpAddress);
    this.pingTimer = setInterval(() => this.ping(), this.pingInterval);
  }

  /** The peers, in the order they were added. */
  peerList(): LookupPeer[] {
    return [...this.peers.values()];
  }

  /** Closes the peers no longer listed and adds the new ones (PUT /config/nsqlookupd_tcp_addresses). */
  setAddresses(addresses: readonly string[]): void {
    if (!this.started || this.closed) return;
    const wanted = new Set(addresses);
    for (const [addr, peer] of this.peers) {
      if (wanted.has(addr)) continue;
      this.host.logger.info(`LOOKUP(${addr}): removing peer`);
      peer.close();
      this.peers.delete(addr);
    }
    for (const addr of wanted) {
      if (this.peers.has(addr)) continue;
      this.host.logger.info(`LOOKUP(${addr}): adding peer`);
      const peer = new LookupPeer(addr, {
        net: this.host.runtime.net,
        logger: this.host.logger,
        maxBodySize: this.host.opts.maxBodySize,
        identifyBody: () => this.identifyBody(),
        replay: () => this.replay(),
      }, this.timing);
      this.peers.set(addr, peer);
      peer.start();
    }
  }

  /** The HTTP addresses ("broadcast_address:http_port") of the connected lookupds, from their IDENTIFY replies. */
  lookupdHttpAddresses(): string[] {
    const out: string[] = [];
    for (const p of this.peers.values()) {
      if (!p.connected || p.info === undefined) continue;
      const host = p.info.broadcastAddress;
      out.push(`${host.includes(':') ? `[${host}]` : host}:${p.info.httpPort}`);
    }
    return out;
  }

  /**
   * A topic was created: REGISTER it, and pre-create the channels the
   * connected lookupds know for it (PROTOCOL.md 3.9). Messages wait in the
   * topic until the answers are in (bounded by --http-client-request-timeout),
   * so that every pre-created channel gets them. Channels ending in
   * #ephemeral are not pre-created.
   */
  topicCreated(topic: CreatedTopic): void {
    this.register(topic.name);
    if (!this.started || this.closed || this.peers.size === 0) return;
    const addresses = this.lookupdHttpAddresses();
    const log = this.host.logger;
    if (addresses.length === 0) {
      log.error(`no available nsqlookupd to query for channels to pre-create for topic ${topic.name}`);
      return;
    }
    topic.hold();
    this.lookupChannels(topic.name, addresses).then(
      (channels) => {
        if (topic.exiting) return;
        for (const c of channels) {
          if (c.endsWith('#ephemeral')) continue; // not without a consumer
          topic.getChannel(c);
        }
      },
      (err) => log.warn(`failed to query nsqlookupd for channels to pre-create for topic ${topic.name} - ${err instanceof Error ? err.message : String(err)}`),
    ).finally(() => topic.start());
  }

  /** The union of GET /channels?topic= on every lookupd (sorted); throws only if all of them failed. */
  private async lookupChannels(topic: string, addresses: readonly string[]): Promise<string[]> {
    const timeout = this.host.opts.httpClientRequestTimeout;
    const errors: string[] = [];
    const lists = await Promise.all(addresses.map(async (addr) => {
      try {
        const res = await fetch(`http://${addr}/channels?topic=${encodeURIComponent(topic)}`, {
          headers: { Accept: 'application/vnd.nsq; version=1.0' },
          signal: AbortSignal.any([AbortSignal.timeout(timeout), this.closing.signal]),
        });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`got response ${res.status} ${text.slice(0, 200)}`);
        const doc = JSON.parse(text) as { channels?: unknown; data?: { channels?: unknown } };
        // V1 answers unwrapped; pre-1.0 lookupds wrap in {"data": ...}
        const list = res.headers.get('x-nsq-content-type') === 'nsq; version=1.0' ? doc.channels : doc.data?.channels ?? doc.channels;
        if (!Array.isArray(list)) throw new Error(`bad response ${text.slice(0, 200)}`);
        return list.filter((c): c is string => typeof c === 'string');
      } catch (err) {
        errors.push(`${addr}: ${err instanceof Error ? err.message : String(err)}`);
        return [];
      }
    }));
    if (errors.length === addresses.length) throw new Error(`Failed to query any nsqlookupd: ${errors.join('; ')}`);
    if (errors.length > 0) this.host.logger.warn(`querying nsqlookupd for channels of topic ${topic}: ${errors.join('; ')}`);
    return [...new Set(lists.flat())].sort();
  }

  /** A topic (no channel) or channel was created. */
  register(topic: string, channel?: string): void {
    this.notify(channel === undefined ? `REGISTER ${topic}` : `REGISTER ${topic} ${channel}`);
  }

  /** A topic or channel was deleted. */
  unregister(topic: string, channel?: string): void {
    this.notify(channel === undefined ? `UNREGISTER ${topic}` : `UNREGISTER ${topic} ${channel}`);
  }

  private notify(line: string): void {
    const log = this.host.logger;
    for (const peer of this.peers.values()) {
      // While a peer is disconnected this is dropped: its reconnection replays everything. While it
      // connects, the command goes after the replay (which may or may not have included the change).
      if (!peer.active) {
        log.debug(`LOOKUPD(${peer.addr}): ${line} skipped (not connected)`);
        continue;
      }
      log.debug(`LOOKUPD(${peer.addr}): ${line}`);
      peer.command(line).then(
        (reply) => {
          if (reply !== 'OK') log.error(`LOOKUPD(${peer.addr}): ${line} - ${reply}`);
        },
        (err) => log.debug(`LOOKUPD(${peer.addr}): ${line} - ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  }

  private ping(): void {
    const log = this.host.logger;
    for (const peer of this.peers.values()) {
      if (!peer.connected) continue;
      log.debug(`LOOKUPD(${peer.addr}): sending heartbeat`);
      peer.command('PING').then(
        (reply) => {
          if (reply !== 'OK') log.error(`LOOKUPD(${peer.addr}): PING - ${reply}`);
        },
        (err) => log.debug(`LOOKUPD(${peer.addr}): PING - ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  }

  /** Go's connectCallback IDENTIFY map (keys sorted, as Go's JSON of a map). */
  private identifyBody(): string {
    const o = this.host.opts;
    return JSON.stringify({
      broadcast_address: o.broadcastAddress,
      hostname: this.host.runtime.hostname(),
      http_port: o.broadcastHttpPort || this.host.httpPort,
      tcp_port: o.broadcastTcpPort || this.host.tcpAddress.port,
      topology_region: o.topologyRegion,
      topology_zone: o.topologyZone,
      version: VERSION,
    });
  }

  /** Every topic without channels as REGISTER <topic>, every channel as REGISTER <topic> <channel>. */
  private replay(): string[] {
    const lines: string[] = [];
    for (const t of this.host.topicList()) {
      const channels = t.channelsSnapshot();
      if (channels.length === 0) lines.push(`REGISTER ${t.name}`);
      else for (const c of channels) lines.push(`REGISTER ${t.name} ${c.name}`);
    }
    return lines;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    clearInterval(this.pingTimer);
    if (this.peers.size > 0) this.host.logger.info('LOOKUP: closing');
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
  }
}
