// The Node process as the CLI's ProcessPort.
import type { ProcessPort } from '../../core/cli.ts';

export const nodeProcess: ProcessPort = {
  args: process.argv.slice(2),
  print: (text) => void process.stdout.write(text + '\n'),
  log: (line) => void process.stderr.write(line + '\n'),
  onShutdownSignal(fn) {
    process.on('SIGINT', fn);
    process.on('SIGTERM', fn);
  },
  exit: (code) => process.exit(code),
};
