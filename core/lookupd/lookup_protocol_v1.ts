// nsqlookupd's TCP protocol V1 (NSQ's nsqlookupd/lookup_protocol_v1.go,
// PROTOCOL.md 6.2), spoken by nsqd after the magic "  V1":
//
//   IDENTIFY\n[int32 size][JSON]   → JSON (this lookupd's ports and address)
//   REGISTER <topic> [<channel>]\n → OK
//   UNREGISTER <topic> [<channel>]\n → OK
//   PING\n                          → OK
//
// Every reply is [int32 size][data], unframed; every error is fatal (written,
// then the connection closes). As protocol V2 here, each chunk the socket
// delivers is parsed in one synchronous pass, every complete command in it is
// executed, and the replies go out in one write; a partial command waits for
// the next chunk. When the connection ends, its peer leaves every
// registration (the keys stay).
import { FatalClientError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Connection } from '../ports.ts';
import { isValidChannelName, isValidTopicName } from '../protocol/names.ts';
import { Producer, type PeerInfo, type RegistrationDB } from './registration_db.ts';

/** What the protocol needs from the daemon. */
export interface LookupContext {
  readonly db: RegistrationDB;
  readonly logger: Logger;
  /** The IDENTIFY reply: this lookupd's real ports, version, --broadcast-address and hostname. */
  identifyResponse(): string;
}

const NL = 10;
/** No valid command line comes near this; a longer one closes the connection (Go's reader has no bound). */
const MAX_LINE = 16384;
/** Upstream does not bound the IDENTIFY body; we do (PROTOCOL.md 6.2). */
export const MAX_IDENTIFY_BODY = 5 * 1024 * 1024;

const NEED_MORE = Symbol('need more');
const OK_BYTES = Uint8Array.of(0, 0, 0, 2, 0x4f, 0x4b);
const CLIENT: { category: string; key: string; subkey: string } = { category: 'client', key: '', subkey: '' };
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

class LineTooLong extends Error {}

export class LookupProtocolV1 {
  private readonly ctx: LookupContext;
  private readonly conn: Connection;
  /** The peer, once IDENTIFYed. */
  peerInfo: PeerInfo | undefined;
  // input: a partial command kept for the next chunk (pending[0, pendingLen)), and how many bytes it needs (0 = unknown)
  private pending: Uint8Array | undefined;
  private pendingLen = 0;
  private need = 0;
  private eof = false;
  private lineStart = 0;
  private fatal = false;
  // output: the replies of one chunk
  private out = new Uint8Array(4096);
  private outLen = 0;

  constructor(ctx: LookupContext, conn: Connection) {
    this.ctx = ctx;
    this.conn = conn;
  }

  /** Runs the connection until it ends. `initial` holds bytes read after the magic. */
  async ioLoop(reader: ReadableStreamDefaultReader<Uint8Array>, initial: Uint8Array): Promise<void> {
    const writer = this.conn.writable.getWriter();
    const write = (): void => {
      if (this.outLen === 0) return;
      const bytes = this.out.slice(0, this.outLen);
      this.outLen = 0;
      writer.write(bytes).catch(() => {});
    };
    try {
      if (initial.length > 0) this.feed(initial);
      while (!this.fatal) {
        write();
        if ((writer.desiredSize ?? 1) <= 0) await writer.ready;
        const { value, done } = await reader.read();
        if (done) {
          this.eof = true;
          if (this.pendingLen > 0) this.feed(new Uint8Array(0));
          break;
        }
        this.feed(value);
      }
    } catch (err) {
      this.ctx.logger.debug(`CLIENT(${this.conn.remoteAddress}): read loop ended - ${String(err)}`);
    } finally {
      write();
      this.ctx.logger.info(`PROTOCOL(V1): [${this.conn.remoteAddress}] exiting ioloop`);
      this.leave();
      reader.cancel().catch(() => {});
      // Let the last replies out, but never hang on a peer that stopped reading.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([writer.close().catch(() => {}), new Promise((r) => (timer = setTimeout(r, 1000)))]);
      clearTimeout(timer);
      this.conn.close();
    }
  }

  /** The connection is gone: its peer leaves every registration. */
  private leave(): void {
    const peer = this.peerInfo;
    if (peer === undefined) return;
    const db = this.ctx.db;
    const log = this.ctx.logger;
    for (const r of db.lookupRegistrations(peer.id)) {
      if (db.removeProducer(r, peer.id).removed && log.enabled('debug')) {
        log.debug(`DB: client(${peer.id}) UNREGISTER category:${r.category} key:${r.key} subkey:${r.subkey}`);
      }
    }
  }

  /** Executes every complete command in `chunk` (after any pending bytes). */
  feed(chunk: Uint8Array): void {
    let buf = chunk;
    const pending = this.pending;
    if (pending !== undefined) {
      const total = this.pendingLen + chunk.length;
      if (total > pending.length) this.pending = grow(pending, this.pendingLen, total);
      this.pending!.set(chunk, this.pendingLen);
      this.pendingLen = total;
      if (this.need > 0 && total < this.need && !this.eof) return;
      buf = this.pending!.subarray(0, total);
    }
    this.need = 0;
    let pos = 0;
    while (pos < buf.length && !this.fatal) {
      try {
        pos = this.execOne(buf, pos);
      } catch (err) {
        if (err === NEED_MORE) break;
        this.fail(err);
        break;
      }
    }
    if (pos >= buf.length || this.fatal) {
      this.pending = undefined;
      this.pendingLen = 0;
      return;
    }
    // Keep the partial command, in a buffer sized for the whole of it when known (an IDENTIFY body).
    const rest = buf.length - pos;
    const size = Math.max(rest, this.need);
    if (pos === 0 && this.pending !== undefined && this.pending.length >= size) {
      this.pendingLen = rest;
      return;
    }
    const next = new Uint8Array(Math.max(size, 256));
    next.set(buf.subarray(pos));
    this.pending = next;
    this.pendingLen = rest;
  }

  private fail(err: unknown): void {
    this.fatal = true;
    if (err instanceof LineTooLong) {
      this.ctx.logger.error(`[${this.conn.remoteAddress}] - command line longer than ${MAX_LINE} bytes`);
      return;
    }
    const text = err instanceof FatalClientError ? err.wire : 'E_INVALID internal error';
    if (!(err instanceof FatalClientError)) this.ctx.logger.error(`[${this.conn.remoteAddress}] - internal error ${String(err)}`);
    else this.ctx.logger.error(`[${this.conn.remoteAddress}] - ${text}`);
    this.appendLatin1(text);
  }

  /** Runs the command at `pos`; returns the position after it, or throws NEED_MORE. */
  private execOne(buf: Uint8Array, pos: number): number {
    this.lineStart = pos;
    const nl = buf.indexOf(NL, pos);
    if (nl < 0) {
      if (buf.length - pos > MAX_LINE) throw new LineTooLong();
      if (this.eof) return buf.length; // a partial line at EOF is dropped, as Go's reader does
      throw NEED_MORE;
    }
    if (nl - pos > MAX_LINE) throw new LineTooLong();
    const line = trimSpace(latin1(buf, pos, nl));
    const params = line.split(' ');
    const after = nl + 1;
    switch (params[0]) {
      case 'PING':
        this.PING();
        return after;
      case 'IDENTIFY':
        return this.IDENTIFY(buf, after);
      case 'REGISTER':
        this.REGISTER(params);
        return after;
      case 'UNREGISTER':
        this.UNREGISTER(params);
        return after;
      default:
        throw new FatalClientError('E_INVALID', `invalid command ${params[0]}`);
    }
  }

  private PING(): void {
    const peer = this.peerInfo;
    if (peer !== undefined) {
      // a PING may come before IDENTIFY on the same connection: then it does nothing
      const now = Date.now();
      this.ctx.logger.debug(`CLIENT(${peer.id}): pinged (last ping ${now - peer.lastUpdate}ms)`);
      peer.lastUpdate = now;
    }
    this.appendBytes(OK_BYTES);
  }

  private IDENTIFY(buf: Uint8Array, at: number): number {
    if (this.peerInfo !== undefined) throw new FatalClientError('E_INVALID', 'cannot IDENTIFY again');
    if (at + 4 > buf.length) {
      if (this.eof) throw new FatalClientError('E_BAD_BODY', 'IDENTIFY failed to read body size');
      throw NEED_MORE;
    }
    const size = new DataView(buf.buffer, buf.byteOffset + at, 4).getInt32(0);
    if (size < 0 || size > MAX_IDENTIFY_BODY) throw new FatalClientError('E_BAD_BODY', 'IDENTIFY failed to read body');
    const end = at + 4 + size;
    if (end > buf.length) {
      if (this.eof) throw new FatalClientError('E_BAD_BODY', 'IDENTIFY failed to read body');
      this.need = end - this.lineStart;
      throw NEED_MORE;
    }
    const remote = this.conn.remoteAddress;
    const fields = decodeIdentify(buf.subarray(at + 4, end));
    if (fields === undefined) throw new FatalClientError('E_BAD_BODY', 'IDENTIFY failed to decode JSON body');
    const peer: PeerInfo = { id: remote, ...fields, remoteAddress: remote, lastUpdate: Date.now() };
    // require all fields
    if (peer.broadcastAddress === '' || peer.tcpPort === 0 || peer.httpPort === 0 || peer.version === '') {
      throw new FatalClientError('E_BAD_BODY', 'IDENTIFY missing fields');
    }
    const log = this.ctx.logger;
    log.info(`CLIENT(${remote}): IDENTIFY Address:${peer.broadcastAddress} TCP:${peer.tcpPort} HTTP:${peer.httpPort} Version:${peer.version}`);
    this.peerInfo = peer;
    if (this.ctx.db.addProducer(CLIENT, new Producer(peer))) log.debug(`DB: client(${remote}) REGISTER category:client key: subkey:`);
    this.appendBytes(utf8.encode(this.ctx.identifyResponse()), true);
    return end;
  }

  /** Topic and optional channel of REGISTER/UNREGISTER, checked as Go's getTopicChan. */
  private topicChan(cmd: string, params: string[]): [topic: string, channel: string] {
    if (this.peerInfo === undefined) throw new FatalClientError('E_INVALID', 'client must IDENTIFY');
    if (params.length < 2) throw new FatalClientError('E_INVALID', `${cmd} insufficient number of params`);
    const topic = params[1]!;
    const channel = params.length >= 3 ? params[2]! : '';
    if (!isValidTopicName(topic)) throw new FatalClientError('E_BAD_TOPIC', `${cmd} topic name '${topic}' is not valid`);
    if (channel !== '' && !isValidChannelName(channel)) throw new FatalClientError('E_BAD_CHANNEL', `${cmd} channel name '${channel}' is not valid`);
    return [topic, channel];
  }

  private REGISTER(params: string[]): void {
    const [topic, channel] = this.topicChan('REGISTER', params);
    const peer = this.peerInfo!;
    const db = this.ctx.db;
    const log = this.ctx.logger;
    if (channel !== '') {
      if (db.addProducer({ category: 'channel', key: topic, subkey: channel }, new Producer(peer)) && log.enabled('debug')) {
        log.debug(`DB: client(${peer.id}) REGISTER category:channel key:${topic} subkey:${channel}`);
      }
    }
    if (db.addProducer({ category: 'topic', key: topic, subkey: '' }, new Producer(peer)) && log.enabled('debug')) {
      log.debug(`DB: client(${peer.id}) REGISTER category:topic key:${topic} subkey:`);
    }
    this.appendBytes(OK_BYTES);
  }

  private UNREGISTER(params: string[]): void {
    const [topic, channel] = this.topicChan('UNREGISTER', params);
    const peer = this.peerInfo!;
    const db = this.ctx.db;
    const log = this.ctx.logger;
    if (channel !== '') {
      const key = { category: 'channel', key: topic, subkey: channel };
      const { removed, left } = db.removeProducer(key, peer.id);
      if (removed && log.enabled('debug')) log.debug(`DB: client(${peer.id}) UNREGISTER category:channel key:${topic} subkey:${channel}`);
      // an ephemeral channel goes with its last producer
      if (left === 0 && channel.endsWith('#ephemeral')) db.removeRegistration(key);
    } else {
      // A topic unregistration: the peer leaves the topic's channels too (nsqd
      // normally unregisters those first, so anything removed here is unexpected).
      for (const r of db.findRegistrations('channel', topic, '*')) {
        if (db.removeProducer(r, peer.id).removed) log.warn(`client(${peer.id}) unexpected UNREGISTER category:channel key:${topic} subkey:${r.subkey}`);
      }
      const key = { category: 'topic', key: topic, subkey: '' };
      const { removed, left } = db.removeProducer(key, peer.id);
      if (removed && log.enabled('debug')) log.debug(`DB: client(${peer.id}) UNREGISTER category:topic key:${topic} subkey:`);
      if (left === 0 && topic.endsWith('#ephemeral')) db.removeRegistration(key);
    }
    this.appendBytes(OK_BYTES);
  }

  // ---- replies: [int32 size][data]

  private reserve(n: number): void {
    const need = this.outLen + n;
    if (need <= this.out.length) return;
    let cap = this.out.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.out.subarray(0, this.outLen));
    this.out = next;
  }

  /** A whole reply as is (`framed`: prefix the size). */
  private appendBytes(bytes: Uint8Array, framed = false): void {
    this.reserve(bytes.length + 4);
    if (framed) {
      new DataView(this.out.buffer).setInt32(this.outLen, bytes.length);
      this.outLen += 4;
    }
    this.out.set(bytes, this.outLen);
    this.outLen += bytes.length;
  }

  /** A reply whose text holds one char per byte (it may echo the client's bytes). */
  private appendLatin1(text: string): void {
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
    this.appendBytes(bytes, true);
  }
}

/** A bigger buffer holding src[0, len): at least `total` bytes, doubling, so a body fed in small chunks is copied O(log n) times. */
function grow(src: Uint8Array, len: number, total: number): Uint8Array {
  const out = new Uint8Array(Math.max(total, 2 * src.length));
  out.set(src.subarray(0, len));
  return out;
}

/** Go's strings.TrimSpace on a byte string: ASCII white space at both ends (a lone byte ≥ 0x80 is no rune). */
function trimSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s.charCodeAt(a))) a++;
  while (b > a && isSpace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** Bytes as a string, one char per byte (command lines are ASCII). */
function latin1(buf: Uint8Array, start: number, end: number): string {
  if (end - start < 4096) return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
  let s = '';
  for (let i = start; i < end; i += 4096) s += String.fromCharCode.apply(null, buf.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  return s;
}

type IdentifyFields = Omit<PeerInfo, 'id' | 'remoteAddress' | 'lastUpdate'>;

const STRING_FIELDS = [
  ['hostname', 'hostname'],
  ['broadcast_address', 'broadcastAddress'],
  ['version', 'version'],
  ['topology_zone', 'topologyZone'],
  ['topology_region', 'topologyRegion'],
] as const;
const INT_FIELDS = [
  ['tcp_port', 'tcpPort'],
  ['http_port', 'httpPort'],
] as const;

/**
 * The IDENTIFY body decoded as Go's json.Unmarshal into PeerInfo would:
 * undefined where Go fails (not JSON, not an object, a field of the wrong
 * type); null and absent fields are zero values; keys match exactly or else
 * case-insensitively; other keys are ignored.
 */
export function decodeIdentify(body: Uint8Array): IdentifyFields | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(utf8Decoder.decode(body));
  } catch {
    return undefined;
  }
  const out: IdentifyFields = { hostname: '', broadcastAddress: '', version: '', topologyZone: '', topologyRegion: '', tcpPort: 0, httpPort: 0 };
  if (doc === null) return out;
  if (typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  const obj = doc as Record<string, unknown>;
  const get = (name: string): unknown => {
    if (Object.hasOwn(obj, name)) return obj[name];
    for (const k of Object.keys(obj)) if (k.toLowerCase() === name) return obj[k];
    return undefined;
  };
  for (const [json, field] of STRING_FIELDS) {
    const value = get(json);
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') return undefined;
    out[field] = value;
  }
  for (const [json, field] of INT_FIELDS) {
    const value = get(json);
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) return undefined;
    out[field] = value;
  }
  return out;
}
