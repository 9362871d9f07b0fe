// The Deno process as the CLI's ProcessPort.
import type { ProcessPort } from '../../core/cli.ts';
import { deno } from './deno_types.ts';

const enc = new TextEncoder();

function writeAll(out: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = enc.encode(text + '\n');
  while (bytes.length > 0) bytes = bytes.subarray(out.writeSync(bytes));
}

export const denoProcess: ProcessPort = {
  args: deno.args,
  print: (text) => writeAll(deno.stdout, text),
  log: (line) => writeAll(deno.stderr, line),
  onShutdownSignal(fn) {
    deno.addSignalListener('SIGINT', fn);
    deno.addSignalListener('SIGTERM', fn);
  },
  exit: (code) => deno.exit(code),
};
