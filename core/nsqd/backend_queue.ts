// Where a topic or channel puts messages past --mem-queue-size, as NSQ's
// BackendQueue. Records are encoded messages (header + body, PROTOCOL.md 7.2).
// Reads are pull-based: read() returns the next record if one is ready, and
// onReadable fires when records become ready again after read() came back
// empty, so a disk-backed queue can load ahead asynchronously.
import { RingQueue } from './ring_queue.ts';

export interface BackendQueue {
  put(record: Uint8Array): void;
  read(): Uint8Array | undefined;
  onReadable: (() => void) | undefined;
  depth(): number;
  empty(): Promise<void>;
  /** Empties the queue and removes what it stored. */
  delete(): Promise<void>;
  close(): Promise<void>;
}

/** Keeps records in memory: the backend until the disk queue lands, and a test double. */
export class MemoryBackendQueue implements BackendQueue {
  private records = new RingQueue<Uint8Array>();
  onReadable: (() => void) | undefined;

  put(record: Uint8Array): void {
    this.records.push(record);
    if (this.records.length === 1) this.onReadable?.();
  }

  read(): Uint8Array | undefined {
    return this.records.shift();
  }

  depth(): number {
    return this.records.length;
  }

  async empty(): Promise<void> {
    this.records = new RingQueue<Uint8Array>();
  }

  delete(): Promise<void> {
    return this.empty();
  }

  async close(): Promise<void> {}
}

/** Ephemeral topics and channels: what overflows memory is dropped, as NSQ's dummy backend. */
export class DiscardBackendQueue implements BackendQueue {
  onReadable: (() => void) | undefined;
  put(): void {}
  read(): undefined {
    return undefined;
  }
  depth(): number {
    return 0;
  }
  async empty(): Promise<void> {}
  async delete(): Promise<void> {}
  async close(): Promise<void> {}
}
