// A channel (NSQ's nsqd/channel.go): receives a copy of every message of its
// topic and spreads them across its subscribed clients.
//
// A message is in exactly one place: the memory queue (up to --mem-queue-size,
// then the backend queue), in flight with one client (the in-flight table:
// a map by ID, message_map.ts, plus a queue by timeout deadline,
// in_flight_queue.ts), or deferred (a map plus a heap by due time). Timeouts
// and due times are not timers: the queue scanner (queue_scanner.ts) calls
// processInFlightQueue / processDeferredQueue.
//
// Delivery is push-based and synchronous: whenever a message arrives or a
// client gains room (RDY, FIN, REQ, timeout), dispatch() hands queued messages
// round-robin to the clients whose in-flight count is below their RDY count.
import { ClientError } from '../errors.ts';
import { isEphemeral } from '../protocol/names.ts';
import { DiscardBackendQueue, takeDeferralOf, type BackendQueue } from './backend_queue.ts';
import { E2eProcessingLatency } from './e2e_latency.ts';
import { MessagePQueue } from './in_flight_pqueue.ts';
import { InFlightQueue } from './in_flight_queue.ts';
import { decodeMessage, idAt, writeMessage, type Message } from './message.ts';
import { MessageMap } from './message_map.ts';
import { RingQueue } from './ring_queue.ts';

/** What a channel needs from a subscribed client (ClientV2 implements it). */
export interface Consumer {
  readonly id: number;
  /** Ready for one more message: RDY > in-flight, not closing. */
  isReadyForMessages(): boolean;
  /** Messages of this consumer are dropped unless a random 0..99 is <= this (0 = all). */
  readonly sampleRate: number;
  /** Per-connection in-flight timeout (ms). */
  readonly msgTimeout: number;
  /** Called with the message already recorded in flight. */
  sendMessage(msg: Message): void;
  /** A message it held timed out or was requeued by nsqd. */
  timedOutMessage(): void;
  /** Channel emptied: nothing is in flight any more. */
  emptied(): void;
  /** Channel deleted or nsqd exiting: disconnect. */
  close(): void;
}

export interface ChannelHooks {
  /** --mem-queue-size. */
  readonly memQueueSize: number;
  /** --max-msg-timeout (ms), the bound on TOUCH. */
  readonly maxMsgTimeout: number;
  /** --max-channel-consumers (0 = unlimited). */
  readonly maxChannelConsumers: number;
  /** The backend for a durable channel (ephemeral ones discard). */
  newBackend(name: string): BackendQueue;
  /** Called when an ephemeral channel loses its last client. */
  onEphemeralEmpty(channel: Channel): void;
  /** A backend write failed (nsqd turns unhealthy). */
  onBackendError(err: unknown): void;
  /** A non-ephemeral channel or topic was created, deleted, paused or unpaused (nsqd.dat is rewritten). */
  onMetadataChange?(): void;
  /** --durable: non-ephemeral topics and channels keep no memory queue, everything goes through disk. */
  readonly durable?: boolean;
  /** --e2e-processing-latency-percentile (descending); none or empty: not tracked. */
  readonly e2eProcessingLatencyPercentiles?: readonly number[];
  /** --e2e-processing-latency-window-time (ms). */
  readonly e2eProcessingLatencyWindowTime?: number;
}

export class Channel {
  readonly topicName: string;
  readonly name: string;
  readonly ephemeral: boolean;
  readonly backend: BackendQueue;
  private readonly hooks: ChannelHooks;
  private readonly memoryQueue = new RingQueue<Message>();
  /** Ephemeral with --mem-queue-size=0: NSQ's unbuffered hand-off, a ready client or nothing. */
  private readonly handOff: boolean;
  private readonly memQueueSize: number;
  /** --durable and not ephemeral: messages go through the disk queue, held there until FIN. */
  private readonly durable: boolean;

  private readonly inFlight = new MessageMap();
  private readonly inFlightPQ = new InFlightQueue();
  private readonly deferred = new MessageMap();
  private readonly deferredPQ = new MessagePQueue();

  private readonly clients = new Map<number, Consumer>();
  private clientList: Consumer[] = [];
  private cursor = 0;
  /** Set when a dispatch found no ready client; cleared by any change that may make one ready. */
  private stalled = false;

  paused = false;
  exiting = false;

  messageCount = 0;
  requeueCount = 0;
  timeoutCount = 0;
  /** Publish-to-FIN times, when --e2e-processing-latency-percentile is set (PROTOCOL.md 3.6). */
  readonly e2e: E2eProcessingLatency | undefined;

  constructor(topicName: string, name: string, hooks: ChannelHooks) {
    this.topicName = topicName;
    this.name = name;
    this.ephemeral = isEphemeral(name);
    this.hooks = hooks;
    this.handOff = this.ephemeral && hooks.memQueueSize === 0;
    this.durable = hooks.durable === true && !this.ephemeral;
    this.memQueueSize = this.durable ? 0 : hooks.memQueueSize;
    this.backend = this.ephemeral ? new DiscardBackendQueue() : hooks.newBackend(`${topicName}:${name}`);
    this.backend.onReadable = () => this.dispatch();
    const percentiles = hooks.e2eProcessingLatencyPercentiles;
    this.e2e = percentiles?.length ? new E2eProcessingLatency(percentiles, hooks.e2eProcessingLatencyWindowTime ?? 600_000) : undefined;
  }

  // ---- counters for /stats

  depth(): number {
    return this.memoryQueue.length + this.backend.depth();
  }
  inFlightCount(): number {
    return this.inFlight.size;
  }
  deferredCount(): number {
    return this.deferred.size;
  }
  consumers(): readonly Consumer[] {
    return this.clientList;
  }

  // ---- messages in

  /** A message from the topic. */
  putMessage(msg: Message): void {
    if (this.exiting) return;
    this.messageCount++;
    this.put(msg);
  }

  /** A deferred message from the topic (DPUB): waits in the deferred table first. */
  putMessageDeferred(msg: Message, deferMs: number): void {
    if (this.exiting) return;
    this.messageCount++;
    if (this.durable) {
      // Through the disk queue with its due time as a note; next() defers it when it comes back.
      this.backend.setDeferral(msg.id, Date.now() + deferMs);
      this.put(msg);
      return;
    }
    this.startDeferredTimeout(msg, deferMs);
  }

  /** Memory if there is room, else the backend (NSQ keeps no order between the two either). */
  private put(msg: Message): void {
    const handOff = this.handOff;
    if (handOff || this.memoryQueue.length < this.memQueueSize) {
      this.memoryQueue.push(msg);
    } else {
      try {
        this.backend.putWith(msg.recordLength, writeMessage, msg);
      } catch (err) {
        this.hooks.onBackendError(err);
        return;
      }
      this.unhold(msg); // its new record holds it now
    }
    if (!this.stalled) this.dispatch();
    if (handOff) this.memoryQueue.shift(); // not taken: dropped
  }

  // ---- clients

  /** Throws Go's bare reason ("exiting", "consumers for ... exceeds limit of N"); SUB prefixes "SUB failed ". */
  addClient(client: Consumer): void {
    if (this.exiting) throw new Error('exiting');
    if (this.clients.has(client.id)) return;
    const max = this.hooks.maxChannelConsumers;
    if (max > 0 && this.clients.size >= max) {
      throw new Error(`consumers for ${this.topicName}:${this.name} exceeds limit of ${max}`);
    }
    this.clients.set(client.id, client);
    this.clientList = [...this.clients.values()];
  }

  /**
   * A client left. Unlike NSQ, which waits for the timeout, the messages it
   * had in flight go back to the queue at once and count as requeues.
   */
  removeClient(client: Consumer): void {
    if (!this.clients.delete(client.id)) return;
    this.clientList = [...this.clients.values()];
    if (this.cursor >= this.clientList.length) this.cursor = 0;
    const held = this.inFlight.values().filter((m) => m.clientId === client.id);
    for (const msg of held.sort((a, b) => a.seq - b.seq)) {
      this.removeFromInFlight(msg);
      this.requeueCount++;
      this.put(msg);
    }
    if (this.clients.size === 0 && this.ephemeral && !this.exiting) this.hooks.onEphemeralEmpty(this);
  }

  /** A client's readiness may have changed (RDY, or a message it held left in flight). */
  clientReady(): void {
    this.stalled = false;
    this.dispatch();
  }

  // ---- delivery

  dispatch(): void {
    if (this.paused || this.exiting) return;
    const list = this.clientList;
    const n = list.length;
    if (n === 0) return;
    let now = 0; // one clock read per dispatch: the deadlines of one batch need not differ
    for (;;) {
      let client: Consumer | undefined;
      for (let tried = 0; tried < n; tried++) {
        const c = list[this.cursor]!;
        this.cursor = this.cursor + 1 === n ? 0 : this.cursor + 1;
        if (c.isReadyForMessages()) {
          client = c;
          break;
        }
      }
      if (client === undefined) {
        this.stalled = true;
        return;
      }
      const msg = this.next();
      if (msg === undefined) return;
      if (client.sampleRate > 0 && Math.floor(Math.random() * 100) > client.sampleRate) continue;
      if (now === 0) now = Math.floor(performance.now());
      this.startInFlightTimeout(msg, client, now);
      client.sendMessage(msg);
    }
  }

  /** The next queued message: memory first, then the backend. */
  private next(): Message | undefined {
    const msg = this.memoryQueue.shift();
    if (msg !== undefined) return msg;
    for (;;) {
      const record = this.backend.read();
      if (record === undefined) return undefined;
      let m: Message;
      try {
        m = decodeMessage(record);
      } catch (err) {
        this.hooks.onBackendError(err);
        continue;
      }
      // A second copy of a message that is in flight or deferred (redelivered after a crash,
      // at least once): the one held already stands for it.
      if (this.inFlight.has(m) || this.deferred.has(m)) continue;
      // Written while deferred (shutdown): back to the deferred table until its due time.
      const due = takeDeferralOf(this.backend, m);
      if (due !== undefined) {
        const left = due - Date.now();
        if (left > 0) {
          if (this.durable) m.hold = this.backend.hold!();
          this.startDeferredTimeout(m, left);
          continue;
        }
      }
      if (this.durable) m.hold = this.backend.hold!();
      return m;
    }
  }

  private startInFlightTimeout(msg: Message, client: Consumer, now: number): void {
    msg.attempts++;
    msg.clientId = client.id;
    msg.deliveryTs = now;
    msg.pri = now + client.msgTimeout;
    this.inFlight.set(msg);
    this.inFlightPQ.push(msg);
  }

  private startDeferredTimeout(msg: Message, ms: number): void {
    if (this.deferred.has(msg)) return;
    msg.pri = Math.floor(performance.now() + ms);
    this.deferred.set(msg);
    this.deferredPQ.push(msg);
  }

  /** --durable: the message no longer needs the record it was read from. */
  private unhold(msg: Message): void {
    if (msg.hold >= 0) {
      this.backend.release!(msg.hold);
      msg.hold = -1;
    }
  }

  private removeFromInFlight(msg: Message): void {
    this.inFlight.delete(msg);
    this.inFlightPQ.remove(msg);
  }

  /** `msg` (the in-flight message `id`) if `clientId` holds it; throws NSQ's reason otherwise. */
  private owned(msg: Message | undefined, clientId: number, id: string, cmd: string): Message {
    if (msg === undefined) throw new ClientError(`E_${cmd}_FAILED`, `${cmd} ${id} failed ID not in flight`);
    if (msg.clientId !== clientId) throw new ClientError(`E_${cmd}_FAILED`, `${cmd} ${id} failed client does not own message`);
    return msg;
  }

  // ---- FIN, REQ, TOUCH (the caller updates its own counters, then calls clientReady)

  finishMessage(clientId: number, id: string): Message {
    return this.finished(this.owned(this.inFlight.get(id), clientId, id, 'FIN'));
  }

  /** FIN of the ID whose 16 bytes are at b[at...]: the protocol's fast path, no string made unless it fails. */
  finishMessageAt(clientId: number, b: Uint8Array, at: number): Message {
    const msg = this.inFlight.getAt(b, at);
    return this.finished(msg !== undefined && msg.clientId === clientId ? msg : this.owned(msg, clientId, idAt(b, at), 'FIN'));
  }

  private finished(msg: Message): Message {
    this.removeFromInFlight(msg);
    this.unhold(msg);
    if (this.e2e !== undefined) this.e2e.insert(msg.timestamp);
    return msg;
  }

  /** REQ: back to the queue at once (0) or after `timeoutMs` through the deferred table. */
  requeueMessage(clientId: number, id: string, timeoutMs: number): void {
    const msg = this.owned(this.inFlight.get(id), clientId, id, 'REQ');
    if (timeoutMs > 0 && this.deferred.has(msg)) throw new ClientError('E_REQ_FAILED', `REQ ${id} failed ID already deferred`);
    this.removeFromInFlight(msg);
    this.requeueCount++;
    if (timeoutMs === 0) this.put(msg);
    else {
      if (this.durable) this.backend.setDeferral(id, Date.now() + timeoutMs); // its held record keeps the delay
      this.startDeferredTimeout(msg, timeoutMs);
    }
  }

  /** TOUCH: a new deadline of now + msgTimeout, never past delivery + --max-msg-timeout. */
  touchMessage(clientId: number, id: string, msgTimeout: number): void {
    const msg = this.owned(this.inFlight.get(id), clientId, id, 'TOUCH');
    const deadline = Math.min(Math.floor(performance.now()) + msgTimeout, msg.deliveryTs + this.hooks.maxMsgTimeout);
    this.inFlightPQ.update(msg, deadline);
  }

  // ---- the queue scanner's work

  /** Requeues every in-flight message whose deadline has passed; true if there was any. */
  processInFlightQueue(now: number): boolean {
    if (this.exiting) return false;
    this.inFlight.shrink();
    this.deferred.shrink();
    let dirty = false;
    for (let msg = this.inFlightPQ.peekAndShift(now); msg !== undefined; msg = this.inFlightPQ.peekAndShift(now)) {
      dirty = true;
      this.inFlight.delete(msg);
      this.timeoutCount++;
      this.clients.get(msg.clientId)?.timedOutMessage();
      this.stalled = false;
      this.put(msg);
    }
    return dirty;
  }

  /** Queues every deferred message that is due; true if there was any. */
  processDeferredQueue(now: number): boolean {
    if (this.exiting) return false;
    let dirty = false;
    for (let msg = this.deferredPQ.peekAndShift(now); msg !== undefined; msg = this.deferredPQ.peekAndShift(now)) {
      dirty = true;
      this.deferred.delete(msg);
      if (this.durable) this.backend.takeDeferral(msg.id); // due now: its next record goes straight out
      this.put(msg);
    }
    return dirty;
  }

  // ---- administration

  pause(): void {
    this.paused = true;
    if (!this.ephemeral) this.hooks.onMetadataChange?.();
  }

  unpause(): void {
    this.paused = false;
    if (!this.ephemeral) this.hooks.onMetadataChange?.();
    this.stalled = false;
    this.dispatch();
  }

  /** Drops every message: queued, in flight and deferred. */
  async empty(): Promise<void> {
    this.inFlight.clear();
    this.inFlightPQ.drain();
    this.deferred.clear();
    this.deferredPQ.drain();
    for (const c of this.clientList) c.emptied();
    this.stalled = false; // the consumers have room again
    this.memoryQueue.drain();
    await this.backend.empty();
  }

  /** Disconnects the clients and removes the messages and their storage. */
  async delete(): Promise<void> {
    this.exiting = true;
    for (const c of this.clientList) c.close();
    this.clients.clear();
    this.clientList = [];
    await this.empty();
    await this.backend.delete();
  }

  /**
   * Shutdown: disconnects the clients, then writes memory, in-flight and
   * deferred messages to the backend (in that order, as NSQ) and closes it.
   */
  async close(): Promise<void> {
    this.exiting = true;
    for (const c of this.clientList) c.close();
    const rest = [...this.memoryQueue.drain(), ...this.inFlightPQ.drain()];
    const deferred = this.deferredPQ.drain();
    this.inFlight.clear();
    this.deferred.clear();
    // Deferred messages are plain records (Go nsqd delivers them at once); their due times go
    // beside them as notes, so nsq-ts delivers them at that time after a restart.
    const wallOffset = Date.now() - performance.now();
    for (const msg of deferred) this.backend.setDeferral(msg.id, Math.round(msg.pri + wallOffset));
    this.backend.releaseAll?.(); // --durable: they are written again below, the old records may go
    for (const msg of [...rest, ...deferred]) {
      try {
        this.backend.putWith(msg.recordLength, writeMessage, msg);
      } catch (err) {
        this.hooks.onBackendError(err);
      }
    }
    await this.backend.close();
  }
}
