// A topic (NSQ's nsqd/topic.go): copies every message to every channel.
//
// While the topic has channels and is not paused, a published message goes
// straight to the channels (the first channel gets the object, the others a
// copy sharing id, body and timestamp). Otherwise it waits in the topic's
// memory queue (up to --mem-queue-size, then the backend queue) and the pump
// hands it over once a channel appears or the topic is unpaused. A channel
// only sees messages handed over after it was created, as in NSQ.
import { isEphemeral } from '../protocol/names.ts';
import { DiscardBackendQueue, takeDeferralOf, type BackendQueue } from './backend_queue.ts';
import { Channel, type ChannelHooks } from './channel.ts';
import { GuidFactory } from './guid.ts';
import { decodeMessage, messageWithId, writeMessage, type Message } from './message.ts';
import { RingQueue } from './ring_queue.ts';

/** The channel hooks less the one the topic supplies itself (an ephemeral channel's last client leaving). */
export interface TopicHooks extends Omit<ChannelHooks, 'onEphemeralEmpty'> {
  readonly nodeId: number;
  /** Called when an ephemeral topic loses its last channel. */
  onEphemeralTopicEmpty(topic: Topic): void;
  /** A channel was created or deleted (nsqd tells nsqlookupd). */
  onChannelChange?(channel: Channel, created: boolean): void;
}

export class Topic {
  readonly name: string;
  readonly ephemeral: boolean;
  readonly backend: BackendQueue;
  private readonly hooks: TopicHooks;
  private readonly memoryQueue = new RingQueue<Message>();
  private readonly guid: GuidFactory;
  private readonly channels = new Map<string, Channel>();
  private channelList: Channel[] = [];
  private readonly channelHooks: ChannelHooks;
  private readonly durable: boolean;
  private readonly memQueueSize: number;
  /** While nsqd asks nsqlookupd which channels to pre-create (lookup.ts), messages wait in the topic. */
  private holding = false;

  paused = false;
  exiting = false;
  messageCount = 0;
  messageBytes = 0;

  constructor(name: string, hooks: TopicHooks) {
    this.name = name;
    this.ephemeral = isEphemeral(name);
    this.hooks = hooks;
    this.guid = new GuidFactory(hooks.nodeId);
    this.backend = this.ephemeral ? new DiscardBackendQueue() : hooks.newBackend(name);
    // --durable: every message of a non-ephemeral topic goes through its disk queue.
    this.durable = hooks.durable === true && !this.ephemeral;
    this.memQueueSize = this.durable ? 0 : hooks.memQueueSize;
    this.backend.onReadable = () => this.pump();
    this.channelHooks = { ...hooks, onEphemeralEmpty: (ch) => void this.deleteChannel(ch.name) };
  }

  /** A message published now with the topic's next ID, its body bytes[start, end); `ns` from nowNs(). */
  newMessage(bytes: Uint8Array, ns: number, start = 0, end = bytes.length): Message {
    const guid = this.guid;
    guid.advance();
    return messageWithId(guid.hi, guid.lo, bytes, start, end, ns);
  }

  depth(): number {
    return this.memoryQueue.length + this.backend.depth();
  }

  // ---- messages in

  putMessage(msg: Message): void {
    this.messageCount++;
    this.messageBytes += msg.bodyEnd - msg.bodyAt;
    this.put(msg);
  }

  /** MPUB: all the messages, in order. */
  putMessages(msgs: readonly Message[]): void {
    for (let i = 0; i < msgs.length; i++) this.putMessage(msgs[i]!);
  }

  private flowing(): boolean {
    return this.channelList.length > 0 && !this.paused && !this.exiting && !this.holding;
  }

  /** Holds messages in the topic until start() (see `holding`). */
  hold(): void {
    this.holding = true;
  }

  /** Ends hold(): queued messages flow to the channels there are now. */
  start(): void {
    if (!this.holding) return;
    this.holding = false;
    this.pump();
  }

  private put(msg: Message): void {
    if (this.flowing() && this.memoryQueue.length === 0 && this.backend.depth() === 0 && !this.durable) {
      this.distribute(msg);
      return;
    }
    if (this.memoryQueue.length < this.memQueueSize) {
      this.memoryQueue.push(msg);
    } else {
      try {
        this.toBackend(msg);
      } catch (err) {
        this.hooks.onBackendError(err);
        return;
      }
    }
    this.pump();
  }

  /** A DPUB message keeps its deferral on disk as a note beside the record (diskqueue.ts). */
  private toBackend(msg: Message): void {
    if (msg.deferred > 0) this.backend.setDeferral(msg.id, msg.deferred);
    this.backend.putWith(msg.recordLength, writeMessage, msg);
  }

  private distribute(msg: Message): void {
    const list = this.channelList;
    const n = list.length;
    if (n === 1) return this.putTo(list[0]!, msg);
    // Copy before any channel delivers the original and raises its attempts.
    const copies = new Array<Message>(n);
    for (let i = 0; i < n; i++) copies[i] = i === 0 ? msg : msg.copy();
    for (let i = 0; i < n; i++) this.putTo(list[i]!, copies[i]!);
  }

  private putTo(channel: Channel, msg: Message): void {
    if (msg.deferred > 0) channel.putMessageDeferred(msg, msg.deferred);
    else channel.putMessage(msg);
  }

  /** Hands queued messages to the channels while it can. */
  private pump(): void {
    while (this.flowing()) {
      let msg = this.memoryQueue.shift();
      if (msg === undefined) {
        const record = this.backend.read();
        if (record === undefined) return;
        try {
          msg = decodeMessage(record);
          const deferred = takeDeferralOf(this.backend, msg);
          if (deferred !== undefined) msg.deferred = deferred;
        } catch (err) {
          this.hooks.onBackendError(err);
          continue;
        }
      }
      this.distribute(msg);
    }
  }

  // ---- channels

  getExistingChannel(name: string): Channel | undefined {
    return this.channels.get(name);
  }

  channelsSnapshot(): readonly Channel[] {
    return this.channelList;
  }

  /** The channel, created if missing; queued messages start flowing to it. */
  getChannel(name: string): Channel {
    let ch = this.channels.get(name);
    if (ch === undefined) {
      ch = new Channel(this.name, name, this.channelHooks);
      this.channels.set(name, ch);
      this.channelList = [...this.channels.values()];
      if (!ch.ephemeral) this.hooks.onMetadataChange?.();
      this.hooks.onChannelChange?.(ch, true);
      this.pump();
    }
    return ch;
  }

  async deleteChannel(name: string): Promise<boolean> {
    const ch = this.channels.get(name);
    if (ch === undefined) return false;
    this.channels.delete(name);
    this.channelList = [...this.channels.values()];
    await ch.delete();
    if (!ch.ephemeral) this.hooks.onMetadataChange?.();
    this.hooks.onChannelChange?.(ch, false);
    if (this.channels.size === 0 && this.ephemeral && !this.exiting) this.hooks.onEphemeralTopicEmpty(this);
    return true;
  }

  // ---- administration

  pause(): void {
    this.paused = true;
    this.hooks.onMetadataChange?.();
  }

  unpause(): void {
    this.paused = false;
    this.hooks.onMetadataChange?.();
    this.pump();
  }

  /** Drops the messages waiting in the topic; channels are untouched. */
  async empty(): Promise<void> {
    this.memoryQueue.drain();
    await this.backend.empty();
  }

  async delete(): Promise<void> {
    this.exiting = true;
    const channels = this.channelList;
    this.channels.clear();
    this.channelList = [];
    await Promise.all(channels.map((c) => c.delete()));
    await this.empty();
    await this.backend.delete();
  }

  /** Shutdown: channels write out what they hold, then the topic's memory queue goes to its backend. */
  async close(): Promise<void> {
    this.exiting = true;
    await Promise.all(this.channelList.map((c) => c.close()));
    for (const msg of this.memoryQueue.drain()) {
      try {
        this.toBackend(msg);
      } catch (err) {
        this.hooks.onBackendError(err);
      }
    }
    await this.backend.close();
  }
}
