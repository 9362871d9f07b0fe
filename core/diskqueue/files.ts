// File names and small file formats of the disk queue (PROTOCOL.md 7.1, 7.3),
// and the crash-safe replace that the queue metadata and nsqd.dat use.
import type { Storage } from '../ports.ts';

/** `<dir>/<name>`, with '' meaning the current folder, as Go's path.Join. */
export function joinPath(dir: string, name: string): string {
  if (dir === '' || dir === '.') return name;
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** `<name>.diskqueue.000042.dat`: decimal, zero-padded to 6 digits (more once it grows past). */
export function segmentFileName(name: string, fileNum: number): string {
  return `${name}.diskqueue.${String(fileNum).padStart(6, '0')}.dat`;
}

export function metaFileName(name: string): string {
  return `${name}.diskqueue.meta.dat`;
}

/**
 * Due times of deferred messages, beside the queue (nsq-ts only; Go nsqd
 * never opens it, see diskqueue.ts).
 */
export function deferredFileName(name: string): string {
  return `${name}.diskqueue.deferred.json`;
}

const SEGMENT = /^(.*)\.diskqueue\.(\d{6,})\.dat$/;

/** The queue name and segment number of a segment file name, or undefined. */
export function parseSegmentFileName(file: string): { name: string; fileNum: number } | undefined {
  const m = SEGMENT.exec(file);
  return m ? { name: m[1]!, fileNum: Number(m[2]) } : undefined;
}

export interface QueueMeta {
  depth: number;
  readFileNum: number;
  readPos: number;
  writeFileNum: number;
  writePos: number;
}

/** Exactly Go's `"%d\n%d,%d\n%d,%d\n"`. */
export function encodeMeta(m: QueueMeta): Uint8Array {
  return new TextEncoder().encode(`${m.depth}\n${m.readFileNum},${m.readPos}\n${m.writeFileNum},${m.writePos}\n`);
}

const META = /^(-?\d+)\n(\d+),(\d+)\n(\d+),(\d+)\n/;

/** The metadata, or undefined if the text does not have the three lines Go writes. */
export function parseMeta(bytes: Uint8Array): QueueMeta | undefined {
  const m = META.exec(new TextDecoder().decode(bytes));
  if (!m) return undefined;
  const n = m.slice(1).map(Number);
  if (n.some((x) => !Number.isSafeInteger(x))) return undefined;
  return { depth: n[0]!, readFileNum: n[1]!, readPos: n[2]!, writeFileNum: n[3]!, writePos: n[4]! };
}

/** Go's rand.Int() in the temporary name: unique enough beside the data-path lock (and no crypto module to load). */
function randomSuffix(): string {
  return String(Math.floor(Math.random() * 0x1_0000_0000));
}

/**
 * Replaces `path` with `data` so that a crash leaves either the old or the
 * new content: write `<path>.<random>.tmp`, fsync, close, rename over `path`
 * (as Go nsqd), then, with `syncDir`, fsync the folder so the rename itself
 * survives a power cut.
 */
export async function atomicWrite(storage: Storage, dir: string, file: string, data: Uint8Array, syncDir = false): Promise<void> {
  const path = joinPath(dir, file);
  const tmp = `${path}.${randomSuffix()}.tmp`;
  const fh = await storage.open(tmp, { create: true });
  try {
    await fh.write(data, 0);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await storage.remove(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  await storage.rename(tmp, path);
  if (syncDir) await storage.syncDir(dir === '' ? '.' : dir);
}
