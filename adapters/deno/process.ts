// The Deno process as the CLI's ProcessPort.
import type { ProcessPort } from '../../core/cli.ts';
import type { MemoryUsage } from '../../core/ports.ts';
import { deno } from './deno_types.ts';

const enc = new TextEncoder();
const denoFs = (globalThis as unknown as { Deno: { readTextFile(path: string): Promise<string>; memoryUsage(): MemoryUsage } }).Deno;

/** Runtime.memoryUsage on Deno. */
export const denoMemoryUsage = (): MemoryUsage => denoFs.memoryUsage();

function writeAll(out: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = enc.encode(text + '\n');
  while (bytes.length > 0) bytes = bytes.subarray(out.writeSync(bytes));
}

export const denoProcess: ProcessPort = {
  args: deno.args,
  print: (text) => writeAll(deno.stdout, text),
  log: (line) => writeAll(deno.stderr, line),
  readTextFile: (path) => denoFs.readTextFile(path),
  onShutdownSignal(fn) {
    deno.addSignalListener('SIGINT', fn);
    deno.addSignalListener('SIGTERM', fn);
  },
  exit: (code) => deno.exit(code),
};
