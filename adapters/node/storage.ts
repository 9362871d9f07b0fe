// Node's file system as the core's Storage port (node:fs/promises): the disk
// queue's segment files, its metadata and nsqd.dat go through here.
//
// The data-path lock. Go nsqd takes flock(2) on the data folder; Node has no
// flock, so the lock is a file, `<data-path>/nsqd.lock`, created exclusively
// (O_CREAT|O_EXCL) and holding the owner's pid. A lock file whose pid no
// longer runs (process.kill(pid, 0) fails with ESRCH) is stale: left by an
// nsqd that was killed with SIGKILL or crashed. It is removed and taken over,
// with a warning. Release deletes the file. Limits: a stale file whose pid
// has since been reused by an unrelated process counts as held (delete it by
// hand), and the lock is only as good as the other side following the same
// protocol (Bun's adapter shares this code; Deno's checks and writes the same
// file, see adapters/deno/storage.ts).
import { closeSync, constants, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import type { FileHandle, Storage } from '../../core/ports.ts';

export const LOCK_FILE = 'nsqd.lock';

class NodeFileHandle implements FileHandle {
  private readonly fh: fs.FileHandle;
  constructor(fh: fs.FileHandle) {
    this.fh = fh;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
  }

  async read(buf: Uint8Array, position: number): Promise<number> {
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await this.fh.read(buf, done, buf.length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  sync(): Promise<void> {
    return this.fh.sync();
  }

  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

const isNotFound = (err: unknown) => (err as { code?: string }).code === 'ENOENT';

/** Lock files held by this process (two nsqd in one process must not share a data path either). */
const heldLocks = new Set<string>();

/** Whether a pid names a running process (EPERM: running, but not ours to signal). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/** Takes `<dir>/nsqd.lock` (see the top of this file); shared with the Bun adapter. */
export function lockDataPath(dir: string): { release(): Promise<void>; warning?: string } {
  const path = `${dir}/${LOCK_FILE}`;
  const inUse = (owner: string) =>
    new Error(`cannot lock data path ${dir}: ${path} is held by ${owner} (possibly in use by another instance of nsqd)`);
  let warning: string | undefined;
  for (let attempt = 0; ; attempt++) {
    if (heldLocks.has(path)) throw inUse('this process');
    let fd: number;
    try {
      fd = openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST' || attempt > 0) throw err;
      let text = '';
      try {
        text = readFileSync(path, 'latin1').trim();
      } catch (e) {
        if (!isNotFound(e)) throw e;
        continue; // removed meanwhile: try again
      }
      const pid = Number(text);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) throw inUse(`pid ${pid}`);
      warning = `removing stale lock ${path} (pid ${text || '?'} is not running)`;
      try {
        unlinkSync(path);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    heldLocks.add(path);
    let released = false;
    return {
      warning,
      async release() {
        if (released) return;
        released = true;
        heldLocks.delete(path);
        await fs.rm(path, { force: true });
      },
    };
  }
}

export const nodeStorage: Storage = {
  async open(path, { create }) {
    const flags = create ? constants.O_RDWR | constants.O_CREAT : constants.O_RDWR;
    return new NodeFileHandle(await fs.open(path, flags, 0o600));
  },
  async readFile(path) {
    try {
      const b = await fs.readFile(path);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  },
  async size(path) {
    try {
      return (await fs.stat(path)).size;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  },
  rename: (from, to) => fs.rename(from, to),
  remove: (path) => fs.rm(path, { force: true }),
  list: (dir) => fs.readdir(dir),
  async mkdir(dir) {
    await fs.mkdir(dir, { recursive: true });
  },
  async syncDir(dir) {
    const fh = await fs.open(dir, constants.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  lock: async (dir) => lockDataPath(dir),
};
