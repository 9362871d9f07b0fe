// Bun's file system as the core's Storage port.
//
// Bun has no native API for what the disk queue needs most: positional
// writes and reads on an open file, fsync, rename. Bun.file()/Bun.write()
// handle whole files only, and Bun implements node:fs natively (in Zig, not
// as a JavaScript shim), so the open-file operations, the folder operations
// and the data-path lock are Node's adapter as is (adapters/node/storage.ts).
// Whole-file reads (queue metadata, nsqd.dat) use Bun.file().bytes().
import type { Storage } from '../../core/ports.ts';
import { nodeStorage } from '../node/storage.ts';

interface BunFileApi {
  file(path: string): { exists(): Promise<boolean>; bytes(): Promise<Uint8Array> };
}
const bunFiles = (globalThis as unknown as { Bun: BunFileApi }).Bun;

export const bunStorage: Storage = {
  ...nodeStorage,
  async readFile(path) {
    const f = bunFiles.file(path);
    try {
      return await f.bytes();
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
  },
};
