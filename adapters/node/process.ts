// The Node process as the CLI's ProcessPort.
import { readFile } from 'node:fs/promises';
import type { ProcessPort } from '../../core/cli.ts';
import type { MemoryUsage } from '../../core/ports.ts';

/** Runtime.memoryUsage on Node (and Bun). */
export const nodeMemoryUsage = (): MemoryUsage => process.memoryUsage();

export const nodeProcess: ProcessPort = {
  args: process.argv.slice(2),
  print: (text) => void process.stdout.write(text + '\n'),
  log: (line) => void process.stderr.write(line + '\n'),
  readTextFile: (path) => readFile(path, 'utf8'),
  onShutdownSignal(fn) {
    process.on('SIGINT', fn);
    process.on('SIGTERM', fn);
  },
  exit: (code) => process.exit(code),
};
