// The Bun runtime for nsq-ts daemons and clients.
import * as os from 'node:os';
import type { Runtime } from '../../core/ports.ts';
import { bunNet } from './net.ts';
import { bunStorage } from './storage.ts';
import { bunServe } from './serve.ts';
import { bunMemoryUsage } from './process.ts';

export { bunNet };

export const bunRuntime: Runtime = {
  name: 'bun',
  net: bunNet,
  storage: bunStorage,
  serve: bunServe,
  memoryUsage: bunMemoryUsage,
  hostname: () => os.hostname(),
};
