// Deno's file API as the core's Storage port.
//
// Deno.FsFile has a cursor and no positional read/write, so a handle seeks
// before an operation that is not at its cursor; a handle's operations are
// chained one after another so that a seek and its read or write never
// interleave with another call on the same handle.
//
// The data-path lock is the same `<data-path>/nsqd.lock` file holding the
// owner's pid as the Node and Bun adapters use (see adapters/node/storage.ts),
// plus a real flock (FsFile.tryLock) held on it while nsqd runs: another Deno
// nsqd is refused by the flock even if the pid check could not tell. An
// existing lock file whose flock is free is stale unless its pid still runs
// (checked through /proc on Linux, the only place Deno can see that without
// signalling the process); a stale one is taken over with a warning.
import type { FileHandle, Storage } from '../../core/ports.ts';
import { deno, type DenoFsFile } from './deno_types.ts';

export const LOCK_FILE = 'nsqd.lock';

class DenoFileHandle implements FileHandle {
  private readonly file: DenoFsFile;
  private cursor = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(file: DenoFsFile) {
    this.file = file;
  }

  /** Runs `fn` after every earlier call on this handle. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  private async seek(position: number): Promise<void> {
    if (this.cursor === position) return;
    this.cursor = await this.file.seek(position, 0);
  }

  write(data: Uint8Array, position: number): Promise<void> {
    return this.serial(async () => {
      await this.seek(position);
      let done = 0;
      try {
        while (done < data.length) done += await this.file.write(data.subarray(done));
      } finally {
        this.cursor = position + done;
      }
    });
  }

  read(buf: Uint8Array, position: number): Promise<number> {
    return this.serial(async () => {
      await this.seek(position);
      let done = 0;
      try {
        while (done < buf.length) {
          const n = await this.file.read(buf.subarray(done));
          if (n === null || n === 0) break;
          done += n;
        }
      } finally {
        this.cursor = position + done;
      }
      return done;
    });
  }

  sync(): Promise<void> {
    return this.serial(() => this.file.sync());
  }

  size(): Promise<number> {
    return this.serial(async () => (await this.file.stat()).size);
  }

  close(): Promise<void> {
    return this.serial(async () => this.file.close());
  }
}

const isNotFound = (err: unknown) => err instanceof deno.errors.NotFound;

/** Whether `pid` runs, as far as Deno can tell without a signal: /proc on Linux, else assume not. */
async function pidAlive(pid: number): Promise<boolean> {
  try {
    await deno.stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

const heldLocks = new Set<string>();

async function lockDataPath(dir: string): Promise<{ release(): Promise<void>; warning?: string }> {
  const path = `${dir}/${LOCK_FILE}`;
  const inUse = (owner: string) =>
    new Error(`cannot lock data path ${dir}: ${path} is held by ${owner} (possibly in use by another instance of nsqd)`);
  if (heldLocks.has(path)) throw inUse('this process');
  const file = await deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let warning: string | undefined;
  try {
    if (!(await file.tryLock(true))) throw inUse('another process (flock)');
    const buf = new Uint8Array(64);
    const n = (await file.read(buf)) ?? 0;
    const text = new TextDecoder().decode(buf.subarray(0, n)).trim();
    const pid = Number(text);
    if (text !== '') {
      if (Number.isInteger(pid) && pid > 0 && pid !== deno.pid && (await pidAlive(pid))) throw inUse(`pid ${pid}`);
      warning = `removing stale lock ${path} (pid ${text} is not running)`;
    }
    const bytes = new TextEncoder().encode(`${deno.pid}\n`);
    await file.seek(0, 0);
    const stale = await file.stat();
    if (stale.size > 0) {
      // Replace the stale content: rewrite from the start, then blank out a longer leftover.
      const pad = new Uint8Array(Math.max(bytes.length, stale.size)).fill(32);
      pad.set(bytes);
      pad[pad.length - 1] = 10;
      await file.write(pad);
    } else {
      await file.write(bytes);
    }
  } catch (err) {
    file.close();
    throw err;
  }
  heldLocks.add(path);
  let released = false;
  return {
    warning,
    async release() {
      if (released) return;
      released = true;
      heldLocks.delete(path);
      try {
        await deno.remove(path);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      file.close(); // closing drops the flock
    },
  };
}

export const denoStorage: Storage = {
  async open(path, { create }) {
    return new DenoFileHandle(await deno.open(path, { read: true, write: true, create, mode: 0o600 }));
  },
  async readFile(path) {
    try {
      return await deno.readFile(path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  },
  async size(path) {
    try {
      return (await deno.stat(path)).size;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  },
  rename: (from, to) => deno.rename(from, to),
  async remove(path) {
    try {
      await deno.remove(path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  },
  async list(dir) {
    const out: string[] = [];
    for await (const e of deno.readDir(dir)) out.push(e.name);
    return out;
  },
  mkdir: (dir) => deno.mkdir(dir, { recursive: true }),
  async syncDir(dir) {
    const f = await deno.open(dir, { read: true });
    try {
      await f.sync();
    } finally {
      f.close();
    }
  },
  lock: lockDataPath,
};
