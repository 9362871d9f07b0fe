// Deferred messages' due times, kept beside a disk queue (nsq-ts only).
//
// Go nsqd writes deferred messages to disk at shutdown as plain records and
// delivers them at once after a restart. nsq-ts writes the same plain
// records (so Go still reads and delivers them) and keeps their due times in
// `<name>.diskqueue.deferred.json` beside the queue, keyed by message ID:
// setDeferral(id, value) before the put, takeDeferral(id) when the record
// comes back. The notes are written with each sync and on close (before the
// sync() waiters are released: a durable DPUB's due time is part of its
// commit), and dropped whenever the queue is empty, so notes of records that
// Go consumed in between do not linger. Go never opens the file.
import type { Storage } from '../ports.ts';
import { atomicWrite, deferredFileName, joinPath } from './files.ts';

export class DeferralNotes {
  private readonly notes = new Map<string, number>();
  /** The notes differ from the file. */
  private dirty = false;
  private onDisk = false;
  private readonly storage: Storage;
  private readonly dir: string;
  private readonly name: string;

  constructor(storage: Storage, dir: string, queueName: string) {
    this.storage = storage;
    this.dir = dir;
    this.name = queueName;
  }

  get size(): number {
    return this.notes.size;
  }

  set(id: string, value: number): void {
    this.notes.set(id, value);
    this.dirty = true;
  }

  take(id: string): number | undefined {
    if (this.notes.size === 0) return undefined;
    const v = this.notes.get(id);
    if (v !== undefined) {
      this.notes.delete(id);
      this.dirty = true;
    }
    return v;
  }

  clear(): void {
    this.notes.clear();
    this.dirty = true;
  }

  get changed(): boolean {
    return this.dirty;
  }

  /** Reads the file if there is one; resolves to the error if it is unreadable (the notes stay empty). */
  async load(): Promise<unknown> {
    const bytes = await this.storage.readFile(joinPath(this.dir, deferredFileName(this.name)));
    if (bytes === undefined) return undefined;
    this.onDisk = true;
    try {
      const obj = JSON.parse(new TextDecoder().decode(bytes)) as { deferred?: Record<string, number> };
      for (const [id, v] of Object.entries(obj.deferred ?? {})) if (typeof v === 'number') this.notes.set(id, v);
    } catch (err) {
      return err;
    }
    return undefined;
  }

  /** Writes the notes if they changed (removes the file when there are none); with `queueEmpty` drops them first. */
  async write(queueEmpty: boolean): Promise<void> {
    if (queueEmpty && this.notes.size > 0) {
      this.notes.clear(); // nothing left that they could be about
      this.dirty = true;
    }
    if (!this.dirty) return;
    this.dirty = false;
    const file = deferredFileName(this.name);
    if (this.notes.size === 0) {
      if (this.onDisk) await this.storage.remove(joinPath(this.dir, file));
      this.onDisk = false;
      return;
    }
    const text = JSON.stringify({ deferred: Object.fromEntries(this.notes) });
    await atomicWrite(this.storage, this.dir, file, new TextEncoder().encode(text));
    this.onDisk = true;
  }
}
