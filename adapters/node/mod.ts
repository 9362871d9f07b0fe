// The Node runtime for nsq-ts daemons and clients.
import * as os from 'node:os';
import type { Runtime } from '../../core/ports.ts';
import { nodeNet } from './net.ts';

export { nodeNet };

export const nodeRuntime: Runtime = {
  name: 'node',
  net: nodeNet,
  hostname: () => os.hostname(),
};
