// Shared by the disk queue tests: a temporary folder, a queue over the
// Storage of the runtime running the tests, and bounded reading.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskQueue, type DiskQueueOptions } from '../../core/diskqueue/diskqueue.ts';
import { Logger } from '../../core/log.ts';
import type { FileHandle, Storage } from '../../core/ports.ts';
import { runtime } from '../helpers/runtime.ts';

export const storage = runtime.storage!;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A fresh folder, removed by the returned function. */
export function tempDir(prefix = 'dq-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function files(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** A 30-byte payload (a 34-byte record) naming `i`. */
export function payload(i: number, size = 30): Uint8Array {
  return enc.encode(`msg-${String(i).padStart(5, '0')}`.padEnd(size, '.'));
}

export function label(rec: Uint8Array): string {
  return dec.decode(rec.subarray(0, 9));
}

export interface TestQueue {
  q: DiskQueue;
  logs: string[];
}

export function openQueue(dir: string, options: Partial<DiskQueueOptions> = {}): TestQueue {
  const logs: string[] = [];
  const q = new DiskQueue({
    name: 'q',
    dataPath: dir,
    storage,
    maxBytesPerFile: 1 << 20,
    minMsgSize: 26,
    maxMsgSize: 1000,
    syncEvery: 2500,
    syncTimeout: 2000,
    logger: new Logger('debug', '', (line) => logs.push(line)),
    ...options,
  });
  return { q, logs };
}

/**
 * Takes `n` records, waiting on onReadable; fails after `ms`. With `strict`,
 * only onReadable wakes it (no polling), so a queue that has records ready
 * but does not say so fails the test.
 */
export async function take(q: DiskQueue, n: number, ms = 5000, strict = false): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const deadline = performance.now() + ms;
  while (out.length < n) {
    const r = q.read();
    if (r !== undefined) {
      out.push(r.slice());
      continue;
    }
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`timed out after ${ms} ms: ${out.length} of ${n} records read${strict ? ' (waiting for onReadable only)' : ''}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, strict ? left : Math.min(left, 20));
      q.onReadable = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  q.onReadable = undefined;
  return out;
}

/** Takes records until none comes for `quietMs`. */
export async function takeAll(q: DiskQueue, quietMs = 300, maxMs = 10000): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const deadline = performance.now() + maxMs;
  let last = performance.now();
  for (;;) {
    const r = q.read();
    if (r !== undefined) {
      out.push(r.slice());
      last = performance.now();
      continue;
    }
    if (performance.now() - last > quietMs) return out;
    if (performance.now() > deadline) throw new Error(`records still coming after ${maxMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The runtime's Storage with a gate on writes to queue segments (metadata
 * and other files pass): shut, they wait until it opens; failing, they throw
 * (a full disk) until it heals.
 */
export function gatedStorage(inner: Storage) {
  let shut = false;
  let failing = false;
  const held: (() => void)[] = [];
  const pass = async () => {
    if (failing) throw new Error('ENOSPC: no space left on device (test)');
    if (shut) await new Promise<void>((resolve) => held.push(resolve));
  };
  const gate = {
    shut: () => void (shut = true),
    open: () => {
      shut = false;
      for (const release of held.splice(0)) release();
    },
    fail: () => void (failing = true),
    heal: () => void (failing = false),
    held: () => held.length,
  };
  const wrap = (fh: FileHandle): FileHandle => ({
    write: async (data, position) => {
      await pass();
      return fh.write(data, position);
    },
    read: (buf, position) => fh.read(buf, position),
    sync: () => fh.sync(),
    size: () => fh.size(),
    close: () => fh.close(),
  });
  const storage: Storage = {
    open: async (path, options) => {
      const fh = await inner.open(path, options);
      return /\.diskqueue\.\d+\.dat$/.test(path) ? wrap(fh) : fh;
    },
    readFile: (path) => inner.readFile(path),
    size: (path) => inner.size(path),
    rename: (from, to) => inner.rename(from, to),
    remove: (path) => inner.remove(path),
    list: (dir) => inner.list(dir),
    mkdir: (dir) => inner.mkdir(dir),
    syncDir: (dir) => inner.syncDir(dir),
    lock: (dir) => inner.lock(dir),
  };
  return { storage, gate };
}
