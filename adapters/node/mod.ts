// The Node runtime for nsq-ts daemons and clients.
import * as os from 'node:os';
import type { Runtime } from '../../core/ports.ts';
import { nodeNet } from './net.ts';
import { nodeStorage } from './storage.ts';
import { nodeServe } from './serve.ts';
import { nodeMemoryUsage } from './process.ts';

export { nodeNet };

export const nodeRuntime: Runtime = {
  name: 'node',
  net: nodeNet,
  storage: nodeStorage,
  serve: nodeServe,
  memoryUsage: nodeMemoryUsage,
  hostname: () => os.hostname(),
};
