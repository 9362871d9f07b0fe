// nsqlookupd's registration database (NSQ's nsqlookupd/registration_db.go,
// PROTOCOL.md 6.3): registration keys (category, key, subkey) each with a set
// of producers keyed by peer id (the nsqd connection's remote address).
//
//   client   ""     ""       one per IDENTIFYed nsqd connection
//   topic    topic  ""       REGISTER, /topic/create, /channel/create
//   channel  topic  channel  REGISTER with a channel, /channel/create
//
// Keys stay when their last producer goes (Go's behaviour: /topics and
// /lookup keep listing them) until an HTTP delete or an ephemeral UNREGISTER
// removes them. Unlike Go's single map, keys are indexed by category and key
// and every peer has the set of keys it produces, so /lookup, /channels and a
// disconnect cost what they return, not the size of the database. "*" as key
// or subkey is a wildcard, as in Go.

export interface Registration {
  readonly category: string;
  readonly key: string;
  readonly subkey: string;
}

/** What an nsqd told us in IDENTIFY, plus its socket address; shared by all its producer entries. */
export interface PeerInfo {
  /** Identity: the connection's remote address (ip:port). */
  readonly id: string;
  remoteAddress: string;
  hostname: string;
  broadcastAddress: string;
  tcpPort: number;
  httpPort: number;
  version: string;
  topologyZone: string;
  topologyRegion: string;
  /** Date.now() of the last IDENTIFY or PING (REGISTER does not refresh it). */
  lastUpdate: number;
  /** peerInfoJson() as text, cached (everything it shows is fixed at IDENTIFY). */
  json?: string;
}

/** One peer's entry under one registration key: the tombstone is per key. */
export class Producer {
  readonly peerInfo: PeerInfo;
  tombstoned = false;
  /** Date.now() when tombstoned; 0 if never. */
  tombstonedAt = 0;

  constructor(peerInfo: PeerInfo) {
    this.peerInfo = peerInfo;
  }

  tombstone(now: number = Date.now()): void {
    this.tombstoned = true;
    this.tombstonedAt = now;
  }

  isTombstoned(lifetime: number, now: number = Date.now()): boolean {
    return this.tombstoned && now - this.tombstonedAt < lifetime;
  }

  /** Go's Producer.String(). */
  toString(): string {
    return `${this.peerInfo.broadcastAddress} [${this.peerInfo.tcpPort}, ${this.peerInfo.httpPort}]`;
  }
}

interface Entry {
  readonly reg: Registration;
  readonly producers: Map<string, Producer>;
}

const WILDCARD = '*';

export class RegistrationDB {
  /** category → key → subkey → entry. */
  private readonly byCategory = new Map<string, Map<string, Map<string, Entry>>>();
  /** peer id → the entries it is a producer of. */
  private readonly byPeer = new Map<string, Set<Entry>>();

  private entry(reg: Registration): Entry | undefined {
    return this.byCategory.get(reg.category)?.get(reg.key)?.get(reg.subkey);
  }

  private ensure(reg: Registration): Entry {
    let keys = this.byCategory.get(reg.category);
    if (keys === undefined) this.byCategory.set(reg.category, (keys = new Map()));
    let subkeys = keys.get(reg.key);
    if (subkeys === undefined) keys.set(reg.key, (subkeys = new Map()));
    let e = subkeys.get(reg.subkey);
    if (e === undefined) {
      e = { reg: { category: reg.category, key: reg.key, subkey: reg.subkey }, producers: new Map() };
      subkeys.set(reg.subkey, e);
    }
    return e;
  }

  /** Adds a registration key with no producers (if missing). */
  addRegistration(reg: Registration): void {
    this.ensure(reg);
  }

  /** Adds `p` under `reg` unless that peer is there already (the old entry, and its tombstone, stay). True if added. */
  addProducer(reg: Registration, p: Producer): boolean {
    const e = this.ensure(reg);
    const id = p.peerInfo.id;
    if (e.producers.has(id)) return false;
    e.producers.set(id, p);
    let set = this.byPeer.get(id);
    if (set === undefined) this.byPeer.set(id, (set = new Set()));
    set.add(e);
    return true;
  }

  /** Removes peer `id` from `reg` (the key stays); returns whether it was there and how many producers are left. */
  removeProducer(reg: Registration, id: string): { removed: boolean; left: number } {
    const e = this.entry(reg);
    if (e === undefined) return { removed: false, left: 0 };
    const removed = e.producers.delete(id);
    if (removed) this.unindex(id, e);
    return { removed, left: e.producers.size };
  }

  /** Removes a registration key and its producers. */
  removeRegistration(reg: Registration): void {
    const keys = this.byCategory.get(reg.category);
    const subkeys = keys?.get(reg.key);
    const e = subkeys?.get(reg.subkey);
    if (e === undefined) return;
    subkeys!.delete(reg.subkey);
    if (subkeys!.size === 0) keys!.delete(reg.key);
    for (const id of e.producers.keys()) this.unindex(id, e);
  }

  private unindex(id: string, e: Entry): void {
    const set = this.byPeer.get(id);
    if (set === undefined) return;
    set.delete(e);
    if (set.size === 0) this.byPeer.delete(id);
  }

  /** The entries matching (category, key, subkey), "*" matching any key or subkey. */
  private match(category: string, key: string, subkey: string): Entry[] {
    const keys = this.byCategory.get(category);
    if (keys === undefined) return [];
    const out: Entry[] = [];
    const scan = (subkeys: Map<string, Entry>) => {
      if (subkey !== WILDCARD) {
        const e = subkeys.get(subkey);
        if (e !== undefined) out.push(e);
      } else for (const e of subkeys.values()) out.push(e);
    };
    if (key !== WILDCARD) {
      const subkeys = keys.get(key);
      if (subkeys !== undefined) scan(subkeys);
    } else for (const subkeys of keys.values()) scan(subkeys);
    return out;
  }

  findRegistrations(category: string, key: string, subkey: string): Registration[] {
    return this.match(category, key, subkey).map((e) => e.reg);
  }

  /** The producers of the matching keys, each peer once. */
  findProducers(category: string, key: string, subkey: string): Producer[] {
    const entries = this.match(category, key, subkey);
    if (entries.length === 1) return [...entries[0]!.producers.values()];
    const seen = new Set<string>();
    const out: Producer[] = [];
    for (const e of entries) {
      for (const [id, p] of e.producers) {
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(p);
      }
    }
    return out;
  }

  /** The producer entry of peer `id` under `reg`. */
  getProducer(reg: Registration, id: string): Producer | undefined {
    return this.entry(reg)?.producers.get(id);
  }

  /** Every registration peer `id` is a producer of. */
  lookupRegistrations(id: string): Registration[] {
    const set = this.byPeer.get(id);
    return set === undefined ? [] : [...set].map((e) => e.reg);
  }

  /** Every key with its producers (GET /debug). */
  *all(): IterableIterator<[Registration, Producer[]]> {
    for (const keys of this.byCategory.values()) {
      for (const subkeys of keys.values()) {
        for (const e of subkeys.values()) yield [e.reg, [...e.producers.values()]];
      }
    }
  }
}

/** Producers active within `inactivityTimeout` (ms) and not tombstoned within `tombstoneLifetime` (Go's FilterByActive). */
export function filterByActive(producers: readonly Producer[], inactivityTimeout: number, tombstoneLifetime: number, now: number = Date.now()): Producer[] {
  const out: Producer[] = [];
  for (const p of producers) {
    if (now - p.peerInfo.lastUpdate > inactivityTimeout || p.isTombstoned(tombstoneLifetime, now)) continue;
    out.push(p);
  }
  return out;
}

/** The keys of registrations (Go's Registrations.Keys()). */
export function keysOf(regs: readonly Registration[]): string[] {
  return regs.map((r) => r.key);
}

/** The subkeys of registrations (Go's Registrations.SubKeys()). */
export function subkeysOf(regs: readonly Registration[]): string[] {
  return regs.map((r) => r.subkey);
}

/** peerInfoJson() as JSON text, computed once per peer. */
export function peerInfoText(p: PeerInfo): string {
  return (p.json ??= JSON.stringify(peerInfoJson(p)));
}

/** A peer's public description, as /lookup and /nodes show it (field order as Go's PeerInfo). */
export function peerInfoJson(p: PeerInfo): Record<string, unknown> {
  return {
    remote_address: p.remoteAddress,
    hostname: p.hostname,
    broadcast_address: p.broadcastAddress,
    tcp_port: p.tcpPort,
    http_port: p.httpPort,
    version: p.version,
    topology_zone: p.topologyZone,
    topology_region: p.topologyRegion,
  };
}
